/*
 * icount: a qemu-user TCG plugin that counts executed guest instructions (scripts/bench-neon.sh).
 *
 *   qemu-aarch64 -plugin icount.so,out=FILE[,syms=on] PROGRAM ...
 *
 * Writes "total N" to FILE at exit and, with syms=on, one "N SYMBOL" line per function (the
 * symbol of each translation block's first instruction; "?" when unknown). Counting is inline
 * (a 64-bit add per executed block, no callback), so it is cheap, but not atomic: run the guest
 * with one thread.
 *
 * The few plugin-API declarations used are written out here (QEMU's plugin ABI, version 1, as in
 * the qemu 7.2 that Debian ships) instead of depending on qemu's development headers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>

typedef uint64_t qemu_plugin_id_t;
typedef struct {
    const char *target_name;
    struct { int min; int cur; } version;
    bool system_emulation;
    union { struct { int smp_vcpus; int max_vcpus; } system; };
} qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

extern void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
                                                  qemu_plugin_vcpu_tb_trans_cb_t cb);
extern void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb,
                                                     enum qemu_plugin_op op, void *ptr,
                                                     uint64_t imm);
extern size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
extern struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb,
                                                        size_t idx);
extern const char *qemu_plugin_insn_symbol(const struct qemu_plugin_insn *insn);
extern void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb,
                                           void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

static uint64_t total;
static const char *out_path;
static bool per_symbol;

/* Per-symbol counters: open addressing on the symbol string's address (qemu keeps one string
 * per symbol, so equal names have equal pointers). */
#define SLOTS 65536
static const char *slot_name[SLOTS];
static uint64_t slot_count[SLOTS];
static uint64_t unknown_count;

static uint64_t *counter_for(const char *name)
{
    if (!name) return &unknown_count;
    uintptr_t h = ((uintptr_t)name >> 3) * 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < SLOTS; i++) {
        size_t s = (h + i) & (SLOTS - 1);
        if (slot_name[s] == name) return &slot_count[s];
        if (!slot_name[s]) { slot_name[s] = name; return &slot_count[s]; }
    }
    return &unknown_count;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &total, n);
    if (per_symbol) {
        const char *sym = qemu_plugin_insn_symbol(qemu_plugin_tb_get_insn(tb, 0));
        qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
                                                 counter_for(sym), n);
    }
}

static void at_exit(qemu_plugin_id_t id, void *userdata)
{
    (void)id; (void)userdata;
    FILE *f = out_path ? fopen(out_path, "w") : stderr;
    if (!f) return;
    fprintf(f, "total %llu\n", (unsigned long long)total);
    if (per_symbol) {
        for (size_t s = 0; s < SLOTS; s++)
            if (slot_name[s] && slot_count[s])
                fprintf(f, "%llu %s\n", (unsigned long long)slot_count[s], slot_name[s]);
        if (unknown_count) fprintf(f, "%llu ?\n", (unsigned long long)unknown_count);
    }
    if (f != stderr) fclose(f);
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    (void)info;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0) out_path = strdup(argv[i] + 4);
        else if (strcmp(argv[i], "syms=on") == 0) per_symbol = true;
        else if (strcmp(argv[i], "syms=off") == 0) per_symbol = false;
        else { fprintf(stderr, "icount: unknown argument %s\n", argv[i]); return -1; }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
