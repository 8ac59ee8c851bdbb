# shellcheck shell=bash
# setup.sh: reports the sandbox user's home, which the pool learns once per member.
#
# out  __GS_HOME       $HOME
# exit OK
echo "__GS_HOME=$HOME"
