/* What the libFuzzer targets share: a private scratch directory for the
 * parsers that read a file, and a host table for the plugins they drive. */
#ifndef EXECD_FUZZ_SUPPORT_H
#define EXECD_FUZZ_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include <execd/host.h>
#include <execd/plugin.h>

/* The libFuzzer entry points the targets define. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* The descriptor of the plugin a target links (EXECD_PLUGIN_DEFINE). */
const execd_plugin *execd_plugin_entry(const execd_host *h);

/* A directory private to this process, made on first use under $TMPDIR
 * (the runner points it into its own work directory) and removed with all
 * it holds at exit. */
const char *fuzz_scratch(void);
/* Write data to path (truncating).  Aborts on failure: the fuzzer cannot
 * go on without its input. */
void fuzz_write_file(const char *path, const uint8_t *data, size_t size);
/* Remove everything under dir, keeping dir. */
void fuzz_empty_dir(const char *dir);

/* A host table whose log and error calls are silent (the last error is
 * kept, fuzz_host_error()), loop() is a private loop and state_dir() the
 * scratch directory.  The transport API members are NULL: a target that
 * needs them fills a copy. */
const execd_host *fuzz_host(void);
uv_loop_t *fuzz_loop(void);
const char *fuzz_host_error(void);

#endif
