# A thin wrapper around meson/ninja so that two commands work on a fresh
# Debian 12 machine (as root): `make run` and `make test`.

BUILD ?= build
BUILD_ASAN ?= build-asan
MESON_OPTS ?= -Dwerror=true

# Debian packages needed to build and test (bpftrace and libbpf-tools: the
# peers `make bench` measures the eBPF gadgets against).
PACKAGES = meson ninja-build pkg-config gcc g++ libc6-dev binutils \
           libyaml-dev libsystemd-dev libjson-c-dev check valgrind \
           clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev \
           debootstrap systemd-container python3 \
           bpftrace libbpf-tools

.PHONY: all deps setup build run test test-asan test-valgrind bench clean

all: build

deps:
	@missing=$$(for p in $(PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	    echo "Installing missing packages:" $$missing; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

setup: deps $(BUILD)/build.ninja

build: setup
	ninja -C $(BUILD)

# The daemon on the shipped configuration, uninstalled: the built plugins and
# conf/pipelines.d. Ctrl-C stops it.
run: build
	OPHOST_PLUGIN_DIR=$(BUILD)/plugins/dir $(BUILD)/daemon/ophostd \
	    --config conf/ophostd.yaml --pipeline-dir conf/pipelines.d

test: build
	meson test -C $(BUILD) --print-errorlogs

test-valgrind: build
	meson test -C $(BUILD) --print-errorlogs --setup valgrind

test-asan: deps
	[ -f $(BUILD_ASAN)/build.ninja ] || \
	    meson setup $(BUILD_ASAN) $(MESON_OPTS) -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C $(BUILD_ASAN)
	meson test -C $(BUILD_ASAN) --print-errorlogs

bench: build
	meson test -C $(BUILD) --benchmark --verbose

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
