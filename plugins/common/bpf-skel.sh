#!/bin/sh
# bpf-skel.sh — compiles one <name>.bpf.c into a CO-RE object and writes its
# libbpf skeleton header (the object embedded), for the eBPF gadgets.
#
# Usage: bpf-skel.sh CLANG BPFTOOL ARCH VMLINUX_DIR COMMON_DIR INPUT OUTPUT DEPFILE NAME
set -eu
clang=$1 bpftool=$2 arch=$3 vmlinux_dir=$4 common_dir=$5 input=$6 output=$7 depfile=$8 name=$9
obj="$output.o"
"$clang" -g -O2 -target bpf "-D__TARGET_ARCH_$arch" -I"$vmlinux_dir" -I"$common_dir" \
    -I"$(dirname "$input")" -MD -MF "$depfile" -MT "$output" -c "$input" -o "$obj"
"$bpftool" gen skeleton "$obj" name "$name" > "$output.tmp"
mv "$output.tmp" "$output"
rm -f "$obj"
