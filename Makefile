# bulwark: thin wrapper around CMake + CTest.
#   make         build (build/)
#   make check   every test, then the unit tests again under ASan + UBSan
#   make demo    the whole architecture end to end on 127.0.0.1
#                (KEEP=1: leave bulwarkd running for the fleet page)
#   make demo-tuf  the TUF client alone against generated repositories
#   make bench   benchmarks (figures go to stdout and bench/results/)
#   make fuzz    libFuzzer binaries with clang (build-fuzz/)
#   make install libbulwark (lib, headers, bulwark.pc), the programs and
#                their man pages under PREFIX (default /usr/local); DESTDIR
#                stages them elsewhere

BUILD      ?= build
BUILD_SAN  ?= build-asan
BUILD_FUZZ ?= build-fuzz
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
WERROR     ?= $(if $(CI),ON,OFF)
CMAKE_ARGS ?=
PREFIX     ?= /usr/local

.PHONY: all build deps check check-unit check-asan demo demo-tuf bench fuzz clean format install

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBW_WERROR=$(WERROR) $(CMAKE_ARGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

check: deps build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	$(MAKE) check-asan

check-asan:
	cmake -S . -B $(BUILD_SAN) -DCMAKE_BUILD_TYPE=Debug -DBW_SANITIZE=ON -DBW_WERROR=$(WERROR) $(CMAKE_ARGS)
	cmake --build $(BUILD_SAN) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --test-dir $(BUILD_SAN) --output-on-failure -j $(JOBS) -L unit

# The demo builds quietly (the compiler's output goes to a log, shown only
# if the build fails) so that what a newcomer reads is the demo itself.
demo: deps
	@mkdir -p $(BUILD)
	@echo "== building bulwark (log: $(BUILD)/build.log)"
	@{ cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBW_WERROR=$(WERROR) $(CMAKE_ARGS) && \
	   cmake --build $(BUILD) -j $(JOBS); } >$(BUILD)/build.log 2>&1 || \
	   { tail -n 40 $(BUILD)/build.log; echo "build failed: see $(BUILD)/build.log"; exit 1; }
	@BW_DEMO_KEEP=$(KEEP) bash scripts/demo.sh $(BUILD)

demo-tuf: deps build
	@bash scripts/demo-tuf.sh $(BUILD)

bench: deps build
	@bash scripts/install-deps.sh --bench
	@bash bench/run.sh $(BUILD)

fuzz: deps
	CC=clang cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBW_FUZZ=ON -DBUILD_TESTING=OFF
	cmake --build $(BUILD_FUZZ) -j $(JOBS)
	@echo "fuzz binaries: $(BUILD_FUZZ)/fuzz/fuzz_*  (run: $(BUILD_FUZZ)/fuzz/fuzz_json fuzz/corpus/json)"

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD_SAN) $(BUILD_FUZZ)
