#!/usr/bin/env bash
# ssh-local.sh — stands in for ssh(1) in ctl-remote.sh (OPHOST_SSH): takes
# the options ophostctl gives ssh, then runs the remote command on this
# machine, as sshd would on the node, with OPHOST_SOCKET set to the socket
# the file $OPHOST_TEST_NODES maps the host to (lines "HOST SOCKET"). A host
# not in the file fails as ssh does when nothing listens (exit 255). Each
# command line is appended to $OPHOST_TEST_SSH_LOG.
set -u
printf '%s\n' "$*" >>"${OPHOST_TEST_SSH_LOG:-/dev/null}"
port=22
while [ $# -gt 0 ]; do
    case $1 in
    -p) port=$2; shift 2 ;;
    -l | -o | -F | -i | -e) shift 2 ;;
    -T | -n | -q) shift ;;
    --) shift; break ;;
    -*) echo "ssh-local: unknown option $1" >&2; exit 255 ;;
    *) break ;;
    esac
done
host=$1
shift
sock=$(awk -v h="$host" '$1 == h { print $2 }' "$OPHOST_TEST_NODES")
if [ -z "$sock" ]; then
    echo "ssh: connect to host $host port $port: Connection refused" >&2
    exit 255
fi
export OPHOST_SOCKET=$sock
exec sh -c "$*"
