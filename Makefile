# carechain — GNU Makefile.
#
#   make            build/carechain and build/libcarechain.a
#   make test       every test; the last line is "N passed, N failed"
#   make ui         the explorer's browser tests only (Chromium + playwright-core)
#   make demo       install what is missing, build, run the single-node demo
#   make asan       unit + integration tests under ASan + UBSan (build-asan/)
#   make tsan       unit + raft process tests under ThreadSanitizer (build-tsan/; slow)
#   make fuzz       libFuzzer targets (clang), each run for FUZZ_SECONDS (FUZZ= names some)
#   make lint       clang-format check and cppcheck
#   make bench      carechain bench --txs 200000
#   make V=1 ...    show the full compiler command lines
#
# Every target that compiles first runs scripts/deps.sh, which installs the
# Debian packages that are missing (or says which to install). demo, test and
# ui also run scripts/deps.sh --web (Node.js, npm ci of libsodium.js, which
# the explorer embeds); if that fails they go on without it, with a warning.

CC      ?= cc
BUILD   ?= build
V       ?= 0
Q       := $(if $(filter 1,$(V)),,@)
PKGS    := libsodium libcrypto lmdb jansson libmicrohttpd gnutls libcurl raft libuv lua5.4
SAN     ?=

ifeq ($(filter lint clean,$(MAKECMDGOALS)),)
DEPS_STATUS := $(shell scripts/deps.sh 1>&2; echo $$?)
ifneq ($(DEPS_STATUS),0)
$(error scripts/deps.sh failed: install the packages it names, then run make again)
endif
ifneq ($(filter demo test ui,$(MAKECMDGOALS)),)
WEB_DEPS_STATUS := $(shell scripts/deps.sh --web 1>&2; echo $$?)
ifneq ($(WEB_DEPS_STATUS),0)
$(warning scripts/deps.sh --web failed: building without libsodium.js, so the explorer's patient page cannot grant read permits (it says so; carechain consent grant can))
endif
endif
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))
CFLAGS     ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
              -Iinclude -Isrc $(PKG_CFLAGS) $(SAN) $(CFLAGS) -MMD -MP
LDLIBS     := $(PKG_LIBS) -lpthread -lm
# The executables allocate through jemalloc (README "Dependencies": glibc's
# malloc cost the claims path ~17 % of its CPU). Not under the sanitizers,
# which bring their own allocator, and not in libcarechain.a: a program that
# links the library chooses its own.
EXE_LIBS   := $(if $(SAN),,$(shell pkg-config --libs jemalloc))
TEST_LIBS  := $(shell pkg-config --libs cmocka)

LIB_SRC := $(wildcard src/core/*.c src/store/*.c src/exec/*.c src/apps/*.c src/node/*.c src/cli/*.c)
LIB_SRC := $(filter-out src/cli/main.c,$(LIB_SRC))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
# The explorer (web/) compiled into the binary: scripts/embed-web.sh writes a C table,
# with libsodium.js from node_modules when it is there, staged (before the wildcard
# below is read) by scripts/web-libs.sh, which touches a file only when it changes.
WEB_LIBS  := $(BUILD)/gen/web-libs
ifeq ($(filter lint clean,$(MAKECMDGOALS)),)
WEB_LIBS_STATUS := $(shell scripts/web-libs.sh $(WEB_LIBS) 1>&2; echo $$?)
ifneq ($(WEB_LIBS_STATUS),0)
$(error scripts/web-libs.sh failed)
endif
endif
WEB_FILES := $(wildcard web/*) $(wildcard $(WEB_LIBS)/*)
WEB_GEN   := $(BUILD)/gen/web_assets.c
LIB_OBJ   += $(BUILD)/obj/gen/web_assets.o

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
INTEG_SRC := $(wildcard tests/integration/test_*.c)
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
SIM_SRC   := $(wildcard tests/sim/sim_*.c)
TEST_SUPPORT := $(wildcard tests/support/*.c)
TEST_SUPPORT_OBJ := $(TEST_SUPPORT:%.c=$(BUILD)/obj/%.o)
.SECONDARY: $(TEST_SUPPORT_OBJ) # keep them: make would delete them as intermediates

UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
INTEG_BIN  := $(INTEG_SRC:tests/integration/%.c=$(BUILD)/tests/integration/%)
REPLAY_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/fuzz/replay_%)
SIM_BIN    := $(SIM_SRC:tests/sim/%.c=$(BUILD)/tests/sim/%)

.PHONY: all test unit integration sim ui demo asan tsan fuzz lint bench clean
all: $(BUILD)/carechain $(BUILD)/libcarechain.a

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(WEB_GEN): $(WEB_FILES) scripts/embed-web.sh
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GEN     $@")
	$(Q)scripts/embed-web.sh web $(WEB_LIBS) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/web_assets.o: $(WEB_GEN)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libcarechain.a: $(LIB_OBJ)
	@rm -f $@
	@$(if $(Q),echo "  AR      $@")
	$(Q)ar rcs $@ $^

$(BUILD)/carechain: $(BUILD)/obj/src/cli/main.o $(BUILD)/libcarechain.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(SAN) -o $@ $^ $(LDLIBS) $(EXE_LIBS)

# A test-only node binary with fault hooks (CC_TEST_FAULTS: see src/exec/chain.c,
# src/node/raft_repair.c and src/store/os.c).
# Only the process tests start it; build/carechain and libcarechain.a never hold them.
FAULTS_OBJ := $(BUILD)/obj-faults/src/exec/chain.o $(BUILD)/obj-faults/src/node/raft_repair.o \
              $(BUILD)/obj-faults/src/store/os.o
$(BUILD)/obj-faults/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $< (test faults)")
	$(Q)$(CC) $(ALL_CFLAGS) -DCC_TEST_FAULTS -c $< -o $@

$(BUILD)/carechain-faults: $(BUILD)/obj/src/cli/main.o $(FAULTS_OBJ) $(BUILD)/libcarechain.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(SAN) -o $@ $^ $(LDLIBS) $(EXE_LIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c $(TEST_SUPPORT_OBJ) $(BUILD)/libcarechain.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -Itests -o $@ $(filter %.c %.o %.a,$^) $(LDLIBS) $(TEST_LIBS)

$(BUILD)/tests/integration/%: tests/integration/%.c $(TEST_SUPPORT_OBJ) $(BUILD)/libcarechain.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -Itests -o $@ $(filter %.c %.o %.a,$^) $(LDLIBS) $(TEST_LIBS)

# Deterministic simulations over libraft's test fixture (tests/sim/); raft is in PKGS.
$(BUILD)/tests/sim/%: tests/sim/%.c $(BUILD)/libcarechain.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -Itests -o $@ $(filter %.c %.o %.a,$^) $(LDLIBS) $(TEST_LIBS)

# Fuzz targets built as plain programs that replay the seed corpus.
$(BUILD)/tests/fuzz/replay_%: tests/fuzz/%.c tests/fuzz/replay_main.c $(BUILD)/libcarechain.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -Itests -o $@ $(filter %.c %.o %.a,$^) $(LDLIBS)

test: all $(BUILD)/carechain-faults $(UNIT_BIN) $(INTEG_BIN) $(REPLAY_BIN) $(SIM_BIN)
	@BUILD=$(BUILD) scripts/run-tests.sh

unit: all $(UNIT_BIN)
	@BUILD=$(BUILD) scripts/run-tests.sh unit

integration: all $(BUILD)/carechain-faults $(INTEG_BIN)
	@BUILD=$(BUILD) scripts/run-tests.sh integration

sim: all $(SIM_BIN)
	@BUILD=$(BUILD) scripts/run-tests.sh sim

ui: all
	@BUILD=$(BUILD) scripts/run-tests.sh ui

demo: all
	$(BUILD)/carechain demo

bench: all
	$(BUILD)/carechain bench --txs 200000

asan:
	$(MAKE) BUILD=build-asan CC=clang SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	    CFLAGS="-O1 -g" all build-asan/carechain-faults $(UNIT_BIN:$(BUILD)/%=build-asan/%) $(INTEG_BIN:$(BUILD)/%=build-asan/%)
	BUILD=build-asan ASAN_OPTIONS=detect_leaks=1 scripts/run-tests.sh unit integration

# ThreadSanitizer over the unit tests and the tests of the raft node's
# threads (apply, pre-verifier, repair, checkpoints and clock readings,
# forwarding, restores, a halt from the raft loop); the other
# process tests are timing-bound HTTP checks that ASan covers. A data race
# or lock-order inversion in a node process makes it exit 66, which fails
# the test that stops it. tests/tsan.supp lists the reports that are not
# carechain's races.
TSAN_INTEG := test_raft test_raft_checkpoints test_raft_clock test_raft_divergence test_raft_faults \
              test_raft_rejoin test_raft_snapshots test_membership test_records_raft test_crash test_backup \
              test_disk_full
tsan:
	rm -rf build-tsan/tests/integration
	$(MAKE) BUILD=build-tsan CC=clang SAN="-fsanitize=thread -fno-omit-frame-pointer" CFLAGS="-O1 -g" all \
	    build-tsan/carechain-faults $(UNIT_BIN:$(BUILD)/%=build-tsan/%) $(TSAN_INTEG:%=build-tsan/tests/integration/%)
	BUILD=build-tsan TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp" scripts/run-tests.sh unit integration

FUZZ_SECONDS ?= 60
# The targets to run (make fuzz FUZZ=fuzz_rules runs one); a target's
# tests/fuzz/<name>.dict, when there is one, is its libFuzzer dictionary.
# Undefined behaviour is fatal, as a crash is: with UBSan's default of
# printing and going on, fuzz_reqsig's signed overflow in a Signature-Input
# went by in the log while the run passed.
FUZZ ?= $(notdir $(FUZZ_SRC:.c=))
fuzz: $(WEB_GEN)
	@mkdir -p $(BUILD)/fuzz
	@for n in $(FUZZ); do \
	    f=tests/fuzz/$$n.c; \
	    clang -std=c11 -D_GNU_SOURCE -Iinclude -Isrc -Itests $(PKG_CFLAGS) -g -O1 \
	        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $$f $(LIB_SRC) $(WEB_GEN) -o $(BUILD)/fuzz/$$n $(LDLIBS) || exit 1; \
	    mkdir -p $(BUILD)/fuzz/corpus-$$n; \
	    dict=; [ -f tests/fuzz/$$n.dict ] && dict=-dict=tests/fuzz/$$n.dict; \
	    $(BUILD)/fuzz/$$n -max_total_time=$(FUZZ_SECONDS) $$dict $(BUILD)/fuzz/corpus-$$n tests/fuzz/corpus/$$n || exit 1; \
	done

CLANG_FORMAT ?= clang-format
lint:
	$(CLANG_FORMAT) --dry-run -Werror $(shell find include src tests bench -name '*.[ch]')
	cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability \
	    --inline-suppr --suppress=missingIncludeSystem -Iinclude -Isrc src include

clean:
	rm -rf build build-asan build-tsan

-include $(LIB_OBJ:.o=.d) $(BUILD)/obj/src/cli/main.d $(FAULTS_OBJ:.o=.d)
-include $(TEST_SUPPORT_OBJ:.o=.d) $(UNIT_BIN:=.d) $(INTEG_BIN:=.d) $(REPLAY_BIN:=.d) $(SIM_BIN:=.d)
