/*
 * bridge.h — `ophostctl bridge` (bridge.c), the command ssh runs on a node
 * for `ophostctl -H ssh://node`: the local control socket relayed to
 * standard input and output. Takes the command's words; returns the exit
 * status.
 */
#ifndef OPHOST_CTL_BRIDGE_H
#define OPHOST_CTL_BRIDGE_H

int cmd_bridge(int argc, char **argv);

#endif
