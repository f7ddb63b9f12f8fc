// See weights_memory.h. The registry of mappings is touched on the JavaScript thread only (mapFile,
// its finalizer, and the converters that call release_if_mapped before or after their parallel part).
#include "weights_memory.h"

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#if !defined(_WIN32)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace mugpt {

namespace {

struct Mapping {
  uintptr_t begin, end;
};
std::vector<Mapping> g_mappings;

#if !defined(_WIN32)
size_t page_size() {
  static const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  return page;
}

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

// madvise over the whole pages inside [p, p+n) (a page partly outside belongs to other data too); its
// failure changes nothing but speed or memory
void advise_whole_pages(const void* p, size_t n, int advice) {
  const uintptr_t first = round_up((uintptr_t)p, page_size()), last = ((uintptr_t)p + n) / page_size() * page_size();
  if (last > first) madvise((void*)first, last - first, advice);
}
#endif

}  // namespace

bool in_mapped_file(const void* p, size_t n) {
  const uintptr_t a = (uintptr_t)p;
  for (const Mapping& m : g_mappings)
    if (a >= m.begin && a + n <= m.end) return true;
  return false;
}

#if !defined(_WIN32)

void* map_file(const std::string& path, size_t* size, std::string* err, bool huge_pages) {
  const int fd = open(path.c_str(), O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0) {
    *err = fd < 0 ? std::strerror(errno) : "empty or unreadable file";
    if (fd >= 0) close(fd);
    return nullptr;
  }
  *size = (size_t)st.st_size;
  void* p = mmap(nullptr, *size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  close(fd);  // the mapping keeps the file
  if (p == MAP_FAILED) {
    *err = std::string("mmap failed (") + std::strerror(errno) + ")";
    return nullptr;
  }
#if defined(MADV_HUGEPAGE)
  if (huge_pages) madvise(p, *size, MADV_HUGEPAGE);  // advice: its failure changes nothing but speed
#else
  (void)huge_pages;
#endif
  g_mappings.push_back({(uintptr_t)p, (uintptr_t)p + *size});
  return p;
}

void unmap_file(void* p, size_t size) {
  munmap(p, size);
  for (size_t i = 0; i < g_mappings.size(); i++)
    if (g_mappings[i].begin == (uintptr_t)p) {
      g_mappings.erase(g_mappings.begin() + (long)i);
      break;
    }
}

void release_if_mapped(const void* p, size_t n) {
  if (in_mapped_file(p, n)) advise_whole_pages(p, n, MADV_DONTNEED);
}

void* alloc_weights(size_t n) {
  void* p = mmap(nullptr, round_up(n == 0 ? 1 : n, page_size()), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void free_weights(void* p, size_t n) { munmap(p, round_up(n == 0 ? 1 : n, page_size())); }

void populate(void* p, size_t n) {
#if !defined(MADV_POPULATE_WRITE)
#define MADV_POPULATE_WRITE 23  // linux/mman.h since 5.14; older kernels reject it (EINVAL): pages then fault in
#endif
  advise_whole_pages(p, n, MADV_POPULATE_WRITE);
}

#else  // no mmap: no mappings, and weights in ordinary zeroed memory

void* map_file(const std::string&, size_t*, std::string* err, bool) {
  *err = "memory-mapping is not implemented on this platform";
  return nullptr;
}
void unmap_file(void*, size_t) {}
void release_if_mapped(const void*, size_t) {}
void* alloc_weights(size_t n) { return std::calloc(n == 0 ? 1 : n, 1); }
void free_weights(void* p, size_t) { std::free(p); }
void populate(void*, size_t) {}

#endif

}  // namespace mugpt
