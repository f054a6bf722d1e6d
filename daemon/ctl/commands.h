/*
 * commands.h — ophostctl's commands with one reply (commands.c). Each takes
 * the command's words (argv[0] is the command; options already taken out)
 * and returns the exit status.
 */
#ifndef OPHOST_CTL_COMMANDS_H
#define OPHOST_CTL_COMMANDS_H

int cmd_list(int argc, char **argv);
int cmd_describe(int argc, char **argv);
int cmd_start_stop(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_reload(int argc, char **argv);
int cmd_unquarantine(int argc, char **argv);

/* After "no session named 'x'": the closest session name, if any, on
 * stderr. */
void commands_hint_session(const char *name);

#endif
