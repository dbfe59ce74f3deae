//===- ExpertCache.cpp - paging mixture-of-experts weights ----------------===//
//
// An artifact compiled with an expert placement (`llmc compile
// --place-experts`) lists in its manifest's `moe` each MoE layer's stacked
// gate/up/down weight slots and the tier of every expert. Code compiled so
// calls llmc_moe_routed(site, counts, experts) once a layer has routed a
// step's tokens (counts[e]: rows for expert e) and llmc_expert_use(site, e)
// before it reads expert e's weights.
//
// The weights are mapped from the artifact file. With a cache, the whole
// pages of every `storage` expert are replaced by an inaccessible anonymous
// mapping (not resident) and mapped back from the file (MAP_POPULATE: read
// now) when used; least recently used experts are unmapped again to keep
// the mapped ones within the budget. A read of an expert that was not
// announced would fault, so equal outputs also show every read announced.
// Pages an expert shares with a neighbouring tensor (its first and last,
// when slices are not page-aligned) stay mapped and are not counted.
//
// Prefetch: at llmc_moe_routed the next MoE layer's experts are predicted
// from this layer's choices with P(next j | this i) (the routing statistics
// the placement used; the manifest's expert_placement.layers[].next), as
// many as this layer chose, and a background thread maps them in while this
// layer computes, evicting only experts this step no longer needs. While
// the recent prediction accuracy is below 50 %, predictions are still
// scored but not prefetched (wrong prefetches cost loads and evict experts
// that may be reused).
//
// Residency is measured with mincore() over the paged experts' pages (an
// unmapped expert is an untouched anonymous mapping: not resident).
//
//===----------------------------------------------------------------------===//

#include "runtime/src/Internal.h"
#include "llmc/generate.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <nlohmann/json.hpp>
#include <sys/mman.h>
#include <thread>
#include <unistd.h>

using namespace llmc::runtime;
using json = nlohmann::json;

namespace {
enum class State { Unloaded, Loading, Loaded };

struct Span {
  uint8_t *begin = nullptr;
  size_t size = 0; ///< whole pages this expert owns
};

struct Expert {
  Span spans[3];
  size_t bytes = 0; ///< its owned pages
  bool paged = false;
  State state = State::Loaded;
  uint64_t lastUse = 0;
  bool prefetched = false; ///< loaded by the prefetcher, not used since
};

struct Site {
  int64_t layer = 0;
  std::vector<Expert> experts;
  /// P(expert j at the next site | expert i here); empty: no predictor.
  std::vector<std::vector<double>> next;
  std::vector<int64_t> predicted; ///< for this site, by the previous one
};

class Cache final : public ExpertCache {
public:
  Cache(llmc_artifact_s &a, uint64_t capacity, bool prefetch)
      : a(a), capacity(capacity), prefetch(prefetch) {}
  ~Cache() override {
    {
      std::lock_guard<std::mutex> lock(m);
      stopping = true;
    }
    cv.notify_all();
    if (worker.joinable())
      worker.join();
    // Map every paged expert back: the artifact's mapping is whole again.
    for (Site &s : sites)
      for (Expert &e : s.experts)
        if (e.paged && e.state != State::Loaded)
          mapIn(e, false);
  }

  llmc_status_t init(const json &manifest) {
    page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    std::map<std::string, std::pair<uint64_t, uint64_t>> slots;
    for (const json &t : manifest.at("weights").at("tensors"))
      slots[t.at("name").get<std::string>()] = {t.at("offset").get<uint64_t>(),
                                                t.at("bytes").get<uint64_t>()};
    std::map<int64_t, std::vector<std::vector<double>>> next;
    if (manifest.contains("expert_placement"))
      for (const json &l : manifest["expert_placement"].value("layers", json::array()))
        if (l.contains("next"))
          next[l.at("layer").get<int64_t>()] =
              l["next"].get<std::vector<std::vector<double>>>();
    if (!manifest.contains("moe"))
      return makeStatus(LLMC_INVALID_ARGUMENT,
                        a.path + ": has no expert placement to page (compile "
                                 "it with --place-experts)");
    for (const json &j : manifest["moe"]) {
      Site s;
      s.layer = j.at("layer").get<int64_t>();
      int64_t n = j.at("experts").get<int64_t>();
      auto tiers = j.at("placement").get<std::vector<std::string>>();
      auto names = j.at("weights").get<std::vector<std::string>>();
      if (n <= 0 || static_cast<int64_t>(tiers.size()) != n || names.size() != 3)
        return makeStatus(LLMC_BAD_ARTIFACT,
                          a.path + ": malformed moe entry in the manifest");
      s.experts.resize(n);
      for (int w = 0; w < 3; ++w) {
        auto it = slots.find(names[w]);
        if (it == slots.end() || it->second.first > a.weights.size ||
            it->second.second > a.weights.size - it->second.first ||
            it->second.second % n)
          return makeStatus(LLMC_BAD_ARTIFACT,
                            a.path + ": expert weights '" + names[w] +
                                "' are not in the weight table");
        uint64_t per = it->second.second / n;
        for (int64_t e = 0; e < n; ++e) {
          // The whole pages inside [begin, end).
          auto begin = reinterpret_cast<uintptr_t>(a.weights.data) +
                       it->second.first + e * per;
          uintptr_t end = begin + per;
          uintptr_t first = (begin + page - 1) / page * page;
          uintptr_t last = end / page * page;
          Span &sp = s.experts[e].spans[w];
          if (last > first) {
            sp.begin = reinterpret_cast<uint8_t *>(first);
            sp.size = last - first;
          }
          s.experts[e].bytes += sp.size;
        }
      }
      for (int64_t e = 0; e < n; ++e) {
        Expert &x = s.experts[e];
        x.paged = tiers[e] == "storage";
        (x.paged ? pagedBytes : pinnedBytes) += x.bytes;
        largest = std::max(largest, x.paged ? x.bytes : size_t(0));
      }
      if (auto it = next.find(s.layer); it != next.end())
        s.next = it->second;
      sites.push_back(std::move(s));
    }
    if (capacity < largest)
      return makeStatus(LLMC_OUT_OF_RANGE,
                        "expert cache of " + std::to_string(capacity) +
                            " bytes cannot hold one expert (" +
                            std::to_string(largest) + " bytes)");
    // Paged experts start out unmapped.
    for (Site &s : sites)
      for (Expert &e : s.experts)
        if (e.paged && !mapOut(e))
          return makeStatus(LLMC_IO_ERROR,
                            a.path + ": cannot unmap expert pages: " +
                                strerror(errno));
    for (Site &s : sites)
      for (Expert &e : s.experts)
        if (e.paged)
          e.state = State::Unloaded;
    if (prefetch)
      worker = std::thread([this] { prefetchLoop(); });
    return nullptr;
  }

  void routed(int32_t site, const int64_t *counts, int64_t n) override {
    std::unique_lock<std::mutex> lock(m);
    if (site < 0 || size_t(site) >= sites.size())
      return;
    Site &s = sites[site];
    if (n != static_cast<int64_t>(s.experts.size()))
      return;
    chosen.clear();
    for (int64_t e = 0; e < n; ++e)
      if (counts[e] > 0)
        chosen.push_back(e);
    currentSite = site;
    // How good the previous layer's prediction was; prefetching pauses
    // while the recent accuracy is below kMinAccuracy (a wrong prefetch
    // costs a load and evicts an expert that may be reused).
    for (int64_t e : s.predicted) {
      ++st.predictions;
      bool right = counts[e] > 0;
      st.predictions_right += right;
      recent = recent * kDecay + (right ? 1.0 - kDecay : 0.0);
    }
    s.predicted.clear();
    if (size_t(site) + 1 >= sites.size() || s.next.empty())
      return;
    Site &t = sites[site + 1];
    std::vector<std::pair<double, int64_t>> score;
    for (size_t j = 0; j < t.experts.size(); ++j) {
      double p = 0;
      for (int64_t i : chosen)
        if (size_t(i) < s.next.size() && j < s.next[i].size())
          p += s.next[i][j];
      score.push_back({-p, int64_t(j)});
    }
    std::sort(score.begin(), score.end());
    size_t k = std::min(chosen.size(), score.size());
    bool active = recent >= kMinAccuracy;
    for (size_t i = 0; i < k; ++i) {
      t.predicted.push_back(score[i].second);
      if (prefetch && active && t.experts[score[i].second].paged)
        queue.push_back({site + 1, score[i].second});
    }
    lock.unlock();
    cv.notify_all();
  }

  void use(int32_t site, int64_t expert) override {
    std::unique_lock<std::mutex> lock(m);
    if (site < 0 || size_t(site) >= sites.size() || expert < 0 ||
        size_t(expert) >= sites[site].experts.size())
      return;
    Expert &e = sites[site].experts[expert];
    ++st.uses;
    e.lastUse = ++clock;
    current = &e;
    if (!e.paged)
      return;
    if (e.prefetched) {
      ++st.prefetches_used;
      e.prefetched = false;
    }
    if (e.state != State::Unloaded) {
      ++st.hits;
      cv.wait(lock, [&] { return e.state == State::Loaded; });
      return;
    }
    ++st.demand_loads;
    // Room for it: least recently used first (waiting for a prefetch in
    // flight to land when only loading experts are left to evict).
    while (!makeRoom(e.bytes, [&](const Expert &x) { return &x != &e; }))
      cv.wait(lock);
    load(e, lock);
  }

  void beginStep(int32_t tokens) override {
    std::lock_guard<std::mutex> lock(m);
    st.tokens += tokens;
  }

  void endStep() override {
    std::lock_guard<std::mutex> lock(m);
    current = nullptr;
    currentSite = -1;
    chosen.clear();
    queue.clear();
  }

  llmc_expert_stats_t stats() override {
    std::lock_guard<std::mutex> lock(m);
    llmc_expert_stats_t out = st;
    out.capacity_bytes = capacity;
    out.paged_bytes = pagedBytes;
    out.pinned_bytes = pinnedBytes;
    out.resident_bytes = measure();
    return out;
  }

  void resetStats() override {
    std::lock_guard<std::mutex> lock(m);
    st = llmc_expert_stats_t{};
  }

private:
  bool mapIn(Expert &e, bool populate) {
    for (Span &sp : e.spans) {
      if (!sp.size)
        continue;
      off_t off = static_cast<off_t>(
          a.fileOffset + (sp.begin - static_cast<uint8_t *>(a.map)));
      if (mmap(sp.begin, sp.size, PROT_READ,
               MAP_PRIVATE | MAP_FIXED | (populate ? MAP_POPULATE : 0), a.fd,
               off) == MAP_FAILED)
        return false;
    }
    return true;
  }

  bool mapOut(Expert &e) {
    for (Span &sp : e.spans)
      if (sp.size && mmap(sp.begin, sp.size, PROT_NONE,
                          MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS |
                              MAP_NORESERVE,
                          -1, 0) == MAP_FAILED)
        return false;
    return true;
  }

  /// Bytes of paged experts resident now.
  uint64_t measure() {
    uint64_t bytes = 0;
    std::vector<unsigned char> v;
    for (Site &s : sites)
      for (Expert &e : s.experts) {
        if (!e.paged)
          continue;
        for (Span &sp : e.spans) {
          if (!sp.size)
            continue;
          v.resize(sp.size / page);
          if (mincore(sp.begin, sp.size, v.data()) != 0)
            continue;
          for (unsigned char c : v)
            bytes += (c & 1) ? page : 0;
        }
      }
    return bytes;
  }

  /// Unmaps loaded experts, least recently used first, among those
  /// `evictable` allows, until `bytes` more fit; false if they cannot.
  template <typename Pred> bool makeRoom(size_t bytes, Pred evictable) {
    while (used + bytes > capacity) {
      Expert *victim = nullptr;
      for (Site &s : sites)
        for (Expert &x : s.experts)
          if (x.paged && x.state == State::Loaded && &x != current &&
              evictable(x) && (!victim || x.lastUse < victim->lastUse))
            victim = &x;
      if (!victim)
        return false;
      mapOut(*victim);
      victim->state = State::Unloaded;
      victim->prefetched = false;
      used -= victim->bytes;
    }
    return true;
  }

  /// Maps `e` in (the lock released meanwhile); the caller made room.
  void load(Expert &e, std::unique_lock<std::mutex> &lock) {
    e.state = State::Loading;
    used += e.bytes;
    lock.unlock();
    mapIn(e, true);
    lock.lock();
    e.state = State::Loaded;
    st.bytes_loaded += e.bytes;
    st.peak_resident_bytes = std::max<uint64_t>(st.peak_resident_bytes, measure());
    cv.notify_all();
  }

  void prefetchLoop() {
    std::unique_lock<std::mutex> lock(m);
    while (true) {
      cv.wait(lock, [&] { return stopping || !queue.empty(); });
      if (stopping)
        return;
      auto [site, expert] = queue.front();
      queue.pop_front();
      Expert &e = sites[site].experts[expert];
      if (e.state != State::Unloaded)
        continue;
      // Never evict what this layer still needs or the next one is
      // predicted to.
      auto keep = [&](const Expert &x) {
        if (currentSite >= 0)
          for (int64_t c : chosen)
            if (&sites[currentSite].experts[c] == &x)
              return false;
        for (int64_t p : sites[site].predicted)
          if (&sites[site].experts[p] == &x)
            return false;
        return true;
      };
      if (!makeRoom(e.bytes, keep))
        continue;
      ++st.prefetches;
      e.prefetched = true;
      e.lastUse = ++clock; // the most recent: not the next demand's victim
      load(e, lock);
    }
  }

  llmc_artifact_s &a;
  uint64_t capacity;
  bool prefetch;
  size_t page = 4096, largest = 0;
  uint64_t pagedBytes = 0, pinnedBytes = 0, used = 0, clock = 0;
  std::vector<Site> sites;
  std::mutex m;
  std::condition_variable cv;
  std::thread worker;
  bool stopping = false;
  std::deque<std::pair<int32_t, int64_t>> queue;
  Expert *current = nullptr; ///< the expert being computed
  int32_t currentSite = -1;
  std::vector<int64_t> chosen; ///< the current site's experts this step
  llmc_expert_stats_t st{};
  /// Prediction accuracy, exponentially averaged over the last ~64
  /// predictions (optimistic start: prefetching begins on).
  static constexpr double kDecay = 63.0 / 64.0, kMinAccuracy = 0.5;
  double recent = 1.0;
};
} // namespace

ExpertCache *&llmc::runtime::currentExpertCache() {
  static thread_local ExpertCache *cache = nullptr;
  return cache;
}

llmc_status_t llmc::runtime::createExpertCache(
    llmc_artifact_s &a, uint64_t capacity, bool prefetch,
    std::unique_ptr<ExpertCache> &out) {
  if (a.fd < 0)
    return makeStatus(LLMC_UNSUPPORTED,
                      a.path + ": the artifact is not mapped from a file");
  auto cache = std::make_unique<Cache>(a, capacity, prefetch);
  try {
    if (llmc_status_t s = cache->init(json::parse(a.manifest)))
      return s;
  } catch (const std::exception &e) {
    return makeStatus(LLMC_BAD_ARTIFACT,
                      a.path + ": malformed moe manifest: " + e.what());
  }
  out = std::move(cache);
  return nullptr;
}

extern "C" {
__attribute__((visibility("default"))) void
llmc_moe_routed(int32_t site, int64_t countsAddress, int64_t experts) {
  if (ExpertCache *c = currentExpertCache())
    c->routed(site,
              reinterpret_cast<const int64_t *>(
                  static_cast<intptr_t>(countsAddress)),
              experts);
}

__attribute__((visibility("default"))) void llmc_expert_use(int32_t site,
                                                            int64_t expert) {
  if (ExpertCache *c = currentExpertCache())
    c->use(site, expert);
}
}

void llmc::printExpertStats(llmc_artifact_t *artifact, std::FILE *err) {
  llmc_expert_stats_t s;
  if (!artifact || !artifact->experts ||
      llmc_artifact_expert_stats(artifact, &s))
    return;
  auto pct = [](uint64_t a, uint64_t b) { return b ? 100.0 * a / b : 0.0; };
  std::fprintf(err,
               "experts: cache %.1f KiB for %.1f KiB of paged experts (%.1f "
               "KiB pinned); hit rate %.1f%% (%llu of %llu uses, %llu "
               "loaded on demand)",
               s.capacity_bytes / 1024.0, s.paged_bytes / 1024.0,
               s.pinned_bytes / 1024.0, pct(s.hits, s.uses),
               (unsigned long long)s.hits, (unsigned long long)s.uses,
               (unsigned long long)s.demand_loads);
  if (s.predictions)
    std::fprintf(err, "; prediction accuracy %.1f%%",
                 pct(s.predictions_right, s.predictions));
  if (s.prefetches)
    std::fprintf(err, "; prefetch accuracy %.1f%% (%llu of %llu prefetched "
                      "used)",
                 pct(s.prefetches_used, s.prefetches),
                 (unsigned long long)s.prefetches_used,
                 (unsigned long long)s.prefetches);
  std::fprintf(err,
               "; %.1f KiB loaded per token; peak resident %.1f KiB "
               "(measured)\n",
               s.tokens ? s.bytes_loaded / 1024.0 / s.tokens : 0.0,
               s.peak_resident_bytes / 1024.0);
}
