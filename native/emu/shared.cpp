/*
 * shared.cpp: finds the __shared__ variables of a module and poisons them at the start of every
 * block, so that a kernel reading shared memory no thread of this block wrote sees the poison
 * pattern (0xff bytes: NaN floats, -1 ints) instead of the previous block's values.
 *
 * Finding them. __shared__ is `static` here (cuda_emu.h), so a kernel's shared arrays are
 * function-local statics; __global__ tags every kernel with abi_tag("cn_emu_kernel"), which puts
 * "B13cn_emu_kernel" in the mangled name of the kernel and of its statics
 * (`_ZZ4funcB13cn_emu_kernelPfE4tile`). The symbol table (.symtab) of the module that holds the
 * launched kernel (the library, or a standalone program: each has its own) lists them with address
 * and size; it is read once per module. (A named ELF section would be simpler, but g++ 12 drops
 * the section attribute of statics in template functions, and most of our kernels are templates.)
 * Writable objects only: a `static const` table in a kernel is not shared memory.
 *
 * Limits: __shared__ declared outside a kernel's body (at namespace scope, or in a __device__
 * helper) is not found (common.h's rule: kernel scope); a stripped module has no symbol table
 * (said once on stderr). CN_EMU_POISON=0 turns the poisoning off (as for device memory).
 */
#include "emu_internal.h"

#include <cxxabi.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace cn_emu {

uintptr_t g_shared_lo = 0, g_shared_hi = 0;

namespace {

struct Module {
  std::string path;
  std::vector<SharedVar> vars;                         /* sorted by address */
  std::vector<std::pair<uintptr_t, size_t>> ranges;    /* vars merged where adjacent: what is poisoned */
  uintptr_t lo = 0, hi = 0;                            /* the hull of vars */
};

std::vector<std::unique_ptr<Module>> g_modules;
std::unordered_map<void (*)(void *), Module *> g_by_fn;
Module *g_cur = nullptr;
void (*g_cur_fn)(void *) = nullptr;
int g_poison = -1;

constexpr const char *TAG = "B13cn_emu_kernel";

/* Reads the writable function-local statics of kernels from the ELF file at `path`, loaded at bias `base`. */
void read_symbols(Module *m, const char *path, uintptr_t base) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("cannot open %s to find its __shared__ variables: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(ElfW(Ehdr))) die("cannot read the ELF file %s", path);
  size_t len = (size_t)st.st_size;
  void *map = mmap(nullptr, len, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) die("cannot map %s to find its __shared__ variables: %s", path, strerror(errno));
  const char *img = (const char *)map;
  const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)img;
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_shoff == 0 ||
      eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) > len)
    die("%s is not an ELF file with section headers", path);
  const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(img + eh->e_shoff);
  bool found = false;
  for (int i = 0; i < eh->e_shnum; i++) {
    if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum) continue;
    found = true;
    const ElfW(Sym) *syms = (const ElfW(Sym) *)(img + sh[i].sh_offset);
    size_t n = sh[i].sh_size / sizeof(ElfW(Sym));
    const char *strtab = img + sh[sh[i].sh_link].sh_offset;
    for (size_t k = 0; k < n; k++) {
      const ElfW(Sym) &s = syms[k];
      if (ELF64_ST_TYPE(s.st_info) != STT_OBJECT || s.st_size == 0 || s.st_shndx == SHN_UNDEF ||
          s.st_shndx >= eh->e_shnum)
        continue;
      const ElfW(Shdr) &sec = sh[s.st_shndx];
      if ((sec.sh_flags & (SHF_ALLOC | SHF_WRITE)) != (SHF_ALLOC | SHF_WRITE) || (sec.sh_flags & SHF_TLS)) continue;
      const char *name = strtab + s.st_name;
      if (strncmp(name, "_ZZ", 3) != 0 || !strstr(name, TAG)) continue;
      m->vars.push_back(SharedVar{base + s.st_value, (size_t)s.st_size, strdup(name)});
    }
  }
  munmap(map, len);
  if (!found)
    fprintf(stderr, "cuda_emu: %s has no symbol table (stripped?): its __shared__ memory is not poisoned or checked\n",
            path);
  std::sort(m->vars.begin(), m->vars.end(), [](const SharedVar &a, const SharedVar &b) { return a.addr < b.addr; });
  m->vars.erase(std::unique(m->vars.begin(), m->vars.end(),
                            [](const SharedVar &a, const SharedVar &b) { return a.addr == b.addr; }),
                m->vars.end());
  for (const auto &v : m->vars) {
    if (!m->ranges.empty() && m->ranges.back().first + m->ranges.back().second >= v.addr) {
      size_t end = std::max(m->ranges.back().first + m->ranges.back().second, v.addr + v.size);
      m->ranges.back().second = end - m->ranges.back().first;
    } else {
      m->ranges.push_back({v.addr, v.size});
    }
  }
  if (!m->vars.empty()) {
    m->lo = m->vars.front().addr;
    m->hi = m->ranges.back().first + m->ranges.back().second;
  }
}

Module *module_of(void (*fn)(void *)) {
  auto it = g_by_fn.find(fn);
  if (it != g_by_fn.end()) return it->second;
  Dl_info info;
  struct link_map *lm = nullptr;
  if (!dladdr1((void *)fn, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
    die("cannot tell which module holds the kernel at %p", (void *)fn);
  std::string path = lm->l_name && lm->l_name[0] ? lm->l_name : "/proc/self/exe";
  Module *m = nullptr;
  for (auto &x : g_modules)
    if (x->path == path) m = x.get();
  if (!m) {
    g_modules.push_back(std::make_unique<Module>());
    m = g_modules.back().get();
    m->path = path;
    read_symbols(m, path.c_str(), (uintptr_t)lm->l_addr);
  }
  g_by_fn[fn] = m;
  return m;
}

}  // namespace

void shared_block_start(void (*fn)(void *)) {
  if (fn != g_cur_fn) { /* launch_erased holds the launch mutex: no other thread is here */
    g_cur = module_of(fn);
    g_cur_fn = fn;
    g_shared_lo = g_cur->lo;
    g_shared_hi = g_cur->hi;
  }
  if (g_poison < 0) g_poison = env_long("CN_EMU_POISON", 1) != 0;
  if (g_poison)
    for (const auto &r : g_cur->ranges) memset((void *)r.first, 0xff, r.second);
}

const SharedVar *shared_find(uintptr_t a) {
  if (!g_cur || a < g_cur->lo || a >= g_cur->hi) return nullptr;
  const auto &v = g_cur->vars;
  auto it = std::upper_bound(v.begin(), v.end(), a, [](uintptr_t x, const SharedVar &s) { return x < s.addr; });
  if (it == v.begin()) return nullptr;
  --it;
  return a < it->addr + it->size ? &*it : nullptr;
}

std::string shared_name(const SharedVar &v) {
  int status = 0;
  char *d = abi::__cxa_demangle(v.name, nullptr, nullptr, &status);
  std::string out = status == 0 && d ? d : v.name;
  free(d);
  const std::string tag = "[abi:cn_emu_kernel]";
  for (size_t p; (p = out.find(tag)) != std::string::npos;) out.erase(p, tag.size());
  return out;
}

}  // namespace cn_emu
