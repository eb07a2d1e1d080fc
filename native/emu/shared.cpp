/*
 * shared.cpp: finds the __shared__ variables of the running kernel and poisons them at the start of
 * every block, so that a kernel reading shared memory no thread of this block wrote sees the poison
 * pattern (0xff bytes: NaN floats, -1 ints) instead of the previous block's values; racecheck.cpp
 * asks it which addresses are shared memory.
 *
 * Finding them. __shared__ is `static` here, so shared arrays are function-local statics. Each
 * __shared__ declaration also declares a marker, `static char cn_emu_shared_mark_N` (cuda_emu.h):
 * in the symbol table (.symtab) of the module (the library, or a standalone program: each has its
 * own), the marker's mangled name `_ZZ<function>E<len>cn_emu_shared_mark_N` starts with the same
 * `_ZZ<function>E` as every static of that function, template instantiations included. The table
 * is read once per module: a "kernel" below is one function (instantiation) with markers, and its
 * shared variables are its writable statics. (A named ELF section would be simpler, but g++ 12
 * drops the section attribute of statics in template functions, and most of our kernels are
 * templates.) A scope object beside the marker runs when a thread reaches the declaration: the
 * first time in a launch it calls shared_enter, which ties the kernel to the launch's entry
 * function; from then on each block of that entry function starts with the kernel's variables
 * poisoned. A kernel without __shared__ costs nothing.
 *
 * Limits: __shared__ at namespace scope is not poisoned (CUDA allows it; common.h's rule is kernel
 * scope); a declaration first reached after another thread of the block used the kernel's shared
 * memory (inside a branch) poisons it late; a stripped module has no symbol table (said once on
 * stderr). CN_EMU_POISON=0 turns the poisoning off (as for device memory).
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
const void *g_shared_last = nullptr;

namespace {

constexpr const char *MARK = "cn_emu_shared_mark_";

struct Kernel {
  std::string prefix;                               /* "_ZZ<function>E" */
  std::vector<std::pair<uintptr_t, size_t>> ranges; /* its shared variables, merged where adjacent */
};

struct Module {
  std::string path;
  std::vector<std::unique_ptr<Kernel>> kernels;
  std::unordered_map<uintptr_t, Kernel *> by_marker;
  std::vector<SharedVar> vars; /* every kernel's, sorted by address */
  uintptr_t lo = 0, hi = 0;    /* their hull */
};

struct Entry { /* a launch's entry function (cn_emu::invoke_body<lambda>) */
  Module *module;
  std::vector<Kernel *> kernels; /* the kernels its launches entered */
};

std::vector<std::unique_ptr<Module>> g_modules;
std::unordered_map<void (*)(void *), std::unique_ptr<Entry>> g_entries;
Entry *g_cur = nullptr;
void (*g_cur_fn)(void *) = nullptr;
int g_poison = -1;

/* "_ZZ<function>E" of a marker's name, or "" when the name is not one. */
std::string marker_prefix(const char *name) {
  const char *m = strstr(name, MARK);
  if (strncmp(name, "_ZZ", 3) != 0 || !m) return "";
  const char *p = m;
  while (p > name && p[-1] >= '0' && p[-1] <= '9') p--; /* the <len> of the source name */
  return std::string(name, (size_t)(p - name));
}

/* Reads the markers and the writable function-local statics from the ELF file at `path`, loaded at bias `base`. */
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
  struct Static {
    uintptr_t addr;
    size_t size;
    const char *name;
  };
  std::vector<Static> statics;
  std::unordered_map<std::string, Kernel *> by_prefix;
  bool found = false;
  for (int i = 0; i < eh->e_shnum; i++) {
    if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum) continue;
    found = true;
    const ElfW(Sym) *syms = (const ElfW(Sym) *)(img + sh[i].sh_offset);
    size_t n = sh[i].sh_size / sizeof(ElfW(Sym));
    const char *strtab = img + sh[sh[i].sh_link].sh_offset;
    for (size_t k = 0; k < n; k++) {
      const ElfW(Sym) &s = syms[k];
      if (ELF64_ST_TYPE(s.st_info) != STT_OBJECT || s.st_shndx == SHN_UNDEF || s.st_shndx >= eh->e_shnum) continue;
      const ElfW(Shdr) &sec = sh[s.st_shndx];
      if ((sec.sh_flags & (SHF_ALLOC | SHF_WRITE)) != (SHF_ALLOC | SHF_WRITE) || (sec.sh_flags & SHF_TLS)) continue;
      const char *name = strtab + s.st_name;
      if (strncmp(name, "_ZZ", 3) != 0) continue;
      std::string prefix = marker_prefix(name);
      if (!prefix.empty()) {
        Kernel *&kern = by_prefix[prefix];
        if (!kern) {
          m->kernels.push_back(std::make_unique<Kernel>());
          kern = m->kernels.back().get();
          kern->prefix = prefix;
        }
        m->by_marker[base + s.st_value] = kern;
      } else if (s.st_size > 0) {
        statics.push_back(Static{base + s.st_value, (size_t)s.st_size, name});
      }
    }
  }
  if (!found)
    fprintf(stderr, "cuda_emu: %s has no symbol table (stripped?): its __shared__ memory is not poisoned or checked\n",
            path);
  std::sort(statics.begin(), statics.end(), [](const Static &a, const Static &b) { return a.addr < b.addr; });
  for (size_t i = 0; i < statics.size(); i++) {
    const Static &v = statics[i];
    if (i > 0 && statics[i - 1].addr == v.addr) continue;
    /* the kernel whose prefix starts the name: "_ZZ<function>E" then the static's own name */
    const char *e = v.name + 3;
    Kernel *kern = nullptr;
    for (const char *p = strchr(e, 'E'); p && !kern; p = strchr(p + 1, 'E')) {
      auto it = by_prefix.find(std::string(v.name, (size_t)(p + 1 - v.name)));
      if (it != by_prefix.end()) kern = it->second;
    }
    if (!kern) continue;
    m->vars.push_back(SharedVar{v.addr, v.size, strdup(v.name)});
    auto &r = kern->ranges;
    if (!r.empty() && r.back().first + r.back().second >= v.addr)
      r.back().second = std::max(r.back().first + r.back().second, v.addr + v.size) - r.back().first;
    else
      r.push_back({v.addr, v.size});
  }
  munmap(map, len); /* the names were copied */
  if (!m->vars.empty()) {
    m->lo = m->vars.front().addr;
    for (const auto &v : m->vars) m->hi = std::max(m->hi, v.addr + v.size);
  }
}

Module *module_of(void (*fn)(void *)) {
  Dl_info info;
  struct link_map *lm = nullptr;
  if (!dladdr1((void *)fn, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
    die("cannot tell which module holds the kernel at %p", (void *)fn);
  std::string path = lm->l_name && lm->l_name[0] ? lm->l_name : "/proc/self/exe";
  for (auto &x : g_modules)
    if (x->path == path) return x.get();
  g_modules.push_back(std::make_unique<Module>());
  Module *m = g_modules.back().get();
  m->path = path;
  read_symbols(m, path.c_str(), (uintptr_t)lm->l_addr);
  return m;
}

inline void poison(const Kernel *k) {
  for (const auto &r : k->ranges) memset((void *)r.first, 0xff, r.second);
}

}  // namespace

void shared_block_start(void (*fn)(void *)) {
  if (fn != g_cur_fn) { /* launch_erased holds the launch mutex: no other thread is here */
    auto &e = g_entries[fn];
    if (!e) e.reset(new Entry{module_of(fn), {}});
    g_cur = e.get();
    g_cur_fn = fn;
    g_shared_last = nullptr; /* the next __shared__ declaration reached checks its kernel is tied to fn */
    g_shared_lo = g_cur->module->lo;
    g_shared_hi = g_cur->module->hi;
  }
  if (g_poison < 0) g_poison = env_long("CN_EMU_POISON", 1) != 0;
  if (g_poison)
    for (const Kernel *k : g_cur->kernels) poison(k);
}

void shared_enter(const void *marker) {
  if (!S.active || !g_cur) return; /* a namespace-scope __shared__, constructed at load time */
  g_shared_last = marker;
  auto it = g_cur->module->by_marker.find((uintptr_t)marker);
  if (it == g_cur->module->by_marker.end()) return; /* another module's, or no symbol table */
  Kernel *k = it->second;
  if (std::find(g_cur->kernels.begin(), g_cur->kernels.end(), k) != g_cur->kernels.end()) return;
  g_cur->kernels.push_back(k); /* first reached in this launch: no thread used it yet */
  if (g_poison < 0) g_poison = env_long("CN_EMU_POISON", 1) != 0;
  if (g_poison) poison(k);
}

const SharedVar *shared_find(uintptr_t a) {
  if (!g_cur || a < g_cur->module->lo || a >= g_cur->module->hi) return nullptr;
  const auto &v = g_cur->module->vars;
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
  return out;
}

}  // namespace cn_emu
