// Memory for model weights (POSIX): GGUF files mapped copy-on-write, fresh memory for converted
// blocks, and giving back the pages of a mapped file once what they hold has been converted.
#pragma once
#include <cstddef>
#include <string>

namespace mugpt {

/**
 * Maps the whole file copy-on-write (MAP_PRIVATE) and registers the mapping; null with *err set on failure.
 * huge_pages: madvise(MADV_HUGEPAGE), for files whose every byte the kernels stream (the layout cache).
 * Where the page cache holds the file in 2 MiB folios (file systems with large folios, e.g. ext4 on Linux
 * 6.16+, which reads such a mapping ahead in 2 MiB folios from a cold cache), they are then mapped as
 * huge pages: the x16 decode kernels stream those 3–15% faster than 4 KiB pages (the TLB misses and
 * page walks of 4 KiB pages sit in their loads' path; BTLM-3B Q4_0, two threads). Elsewhere it is advice
 * that changes nothing.
 */
void* map_file(const std::string& path, size_t* size, std::string* err, bool huge_pages = false);

/** Unmaps and unregisters a mapping of map_file. */
void unmap_file(void* p, size_t size);

/**
 * Drops from the process the whole pages of [p, p+n) when that range lies inside a mapping of
 * map_file (madvise MADV_DONTNEED): they stay in the page cache, and a later read maps them again
 * from the file, so the bytes read stay the same as long as nothing wrote to them, which the callers
 * (the converters of a tensor that has been read) guarantee. Elsewhere (any other memory) it does nothing.
 * Why: pages of a mapped file count in the process's resident memory once touched; a model whose
 * matrices are converted at load would otherwise hold the file's pages and their conversion at once.
 */
void release_if_mapped(const void* p, size_t n);

/** True when [p, p+n) lies inside a mapping of map_file. */
bool in_mapped_file(const void* p, size_t n);

/**
 * n bytes of zeroed anonymous memory of their own (mmap), so a model's weights leave the process
 * whole when they are freed (free_weights); null when the memory cannot be had. No MADV_HUGEPAGE:
 * on the virtual machines measured, first-touch faults of huge pages made loading slower and its
 * time vary by a second, for a few percent of decode speed (docs/quantization.md).
 */
void* alloc_weights(size_t n);
void free_weights(void* p, size_t n);

/**
 * Maps now the whole pages inside [p, p+n) of anonymous memory about to be written (MADV_POPULATE_WRITE,
 * Linux 5.14+; elsewhere nothing: the pages fault in on first write as usual). For the KV cache's rows a
 * little ahead of the decode and the activations: on the virtual machines measured a first-touch fault
 * cost ~11 µs a 4 KiB page, populating pages the guest already holds 0.7–0.8 µs (fresh ones cost the host's
 * fault either way). The contents are unchanged.
 */
void populate(void* p, size_t n);

}  // namespace mugpt
