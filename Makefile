# l4dfu top-level driver. Everything real lives in CMake; this file gives the short names.
BUILD   ?= build
JOBS    ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all deps build test demo bench clean fuzz

all: build

deps:
	@bash scripts/install-deps

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) --timeout 600

demo: build
	bash scripts/demo $(BUILD)

bench: build
	bash bench/run $(BUILD)

fuzz: build
	bash tests/fuzz/run $(BUILD)

clean:
	rm -rf $(BUILD)
