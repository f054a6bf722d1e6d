/*
 * run.h — `ophostctl run` and `ophostctl watch` (run.c): each takes the
 * command's words (argv[0] the command) and returns the exit status.
 */
#ifndef OPHOST_CTL_RUN_H
#define OPHOST_CTL_RUN_H

int cmd_run(int argc, char **argv);
int cmd_watch(int argc, char **argv);

#endif
