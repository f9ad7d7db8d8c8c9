#include "text/char_lm.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "attune/error.h"
#include "common/file_util.h"

namespace attune::text {
namespace {

constexpr char kJoin = '\x1f';  // between the symbols of a key (no symbol contains it)
constexpr const char* kBos = "<s>";
constexpr const char* kEos = "</s>";
constexpr const char* kUnk = "<unk>";
constexpr const char* kSpace = "<sp>";  // ARPA separates symbols by whitespace, so the space is written so

std::string join(std::span<const std::string> symbols) {
  std::string key;
  for (size_t i = 0; i < symbols.size(); ++i) {
    if (i) key += kJoin;
    key += symbols[i];
  }
  return key;
}

std::vector<std::string> split(const std::string& key) {
  std::vector<std::string> out(1);
  for (char c : key) {
    if (c == kJoin) {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

// The key without its first symbol (the lower-order context or n-gram).
std::string drop_first(const std::string& key) {
  const size_t at = key.find(kJoin);
  return at == std::string::npos ? std::string() : key.substr(at + 1);
}

// The key without its last symbol.
std::string drop_last(const std::string& key) {
  const size_t at = key.rfind(kJoin);
  return at == std::string::npos ? std::string() : key.substr(0, at);
}

bool starts_with_bos(const std::string& key) { return key.rfind(std::string(kBos), 0) == 0; }

}  // namespace

CharLm CharLm::train(const std::vector<std::vector<std::string>>& sentences, const TrainOptions& options) {
  if (options.order < 1 || options.order > 12) throw ConfigError("char LM: the order must be 1 to 12");
  const int N = options.order;
  // Raw counts per order, of every n-gram that ends in a predicted symbol (never <s>).
  std::vector<std::unordered_map<std::string, int64_t>> raw(static_cast<size_t>(N));
  std::vector<std::string> seq;
  for (const auto& s : sentences) {
    seq.assign(1, kBos);
    seq.insert(seq.end(), s.begin(), s.end());
    seq.emplace_back(kEos);
    for (size_t i = 1; i < seq.size(); ++i) {
      for (int n = 1; n <= N && static_cast<size_t>(n) <= i + 1; ++n) {
        ++raw[static_cast<size_t>(n - 1)][join(std::span(seq).subspan(i + 1 - static_cast<size_t>(n), n))];
      }
    }
  }
  // Kneser-Ney's adjusted counts: the highest order and n-grams starting with <s> keep their raw
  // counts; the others count the distinct symbols seen before them.
  std::vector<std::unordered_map<std::string, int64_t>> adjusted(static_cast<size_t>(N));
  adjusted[static_cast<size_t>(N - 1)] = raw[static_cast<size_t>(N - 1)];
  for (int n = N - 1; n >= 1; --n) {
    auto& a = adjusted[static_cast<size_t>(n - 1)];
    for (const auto& [key, count] : raw[static_cast<size_t>(n - 1)]) {
      if (starts_with_bos(key)) a[key] = count;
    }
    for (const auto& [key, count] : raw[static_cast<size_t>(n)]) ++a[drop_first(key)];
  }

  CharLm lm;
  lm.order_ = N;
  lm.grams_.resize(static_cast<size_t>(N));
  for (int n = 1; n <= N; ++n) {
    const auto& a = adjusted[static_cast<size_t>(n - 1)];
    int64_t n1 = 0, n2 = 0;
    for (const auto& [key, count] : a) n1 += count == 1, n2 += count == 2;
    const double D = n1 > 0 && n2 > 0 ? static_cast<double>(n1) / static_cast<double>(n1 + 2 * n2) : 0.5;
    // Per context: the sum of its adjusted counts and how many symbols follow it.
    std::unordered_map<std::string, std::pair<double, int64_t>> context;
    for (const auto& [key, count] : a) {
      auto& c = context[drop_last(key)];
      c.first += static_cast<double>(count), c.second += 1;
    }
    auto& table = lm.grams_[static_cast<size_t>(n - 1)];
    if (n == 1) {
      const auto& [total, kinds] = context[""];
      const double gamma = D * static_cast<double>(kinds) / total;
      const double uniform = gamma / static_cast<double>(a.size() + 1);  // the seen symbols and <unk>
      for (const auto& [key, count] : a) {
        table[key].log10_p = static_cast<float>(std::log10((static_cast<double>(count) - D) / total + uniform));
      }
      table[kUnk].log10_p = static_cast<float>(std::log10(uniform));
      table[kBos].log10_p = -99;  // never predicted; present as a context
      continue;
    }
    // Interpolated probabilities of the kept n-grams, with the (final) lower orders; then each
    // context's backoff weight, so that with what was pruned its distribution sums to 1.
    const bool prune = n >= 3 && options.min_count > 1;
    std::map<std::string, std::pair<double, double>> kept_mass;  // context -> (sum p, sum p lower)
    for (const auto& [key, count] : a) {
      const std::string h = drop_last(key);
      if (prune && raw[static_cast<size_t>(n - 1)].at(key) < options.min_count) continue;
      const std::vector<std::string> symbols = split(key);
      const double lower =
          std::pow(10.0, lm.log10_prob(std::span(symbols).subspan(1, symbols.size() - 2), symbols.back()));
      const auto& [total, kinds] = context.at(h);
      const double gamma = D * static_cast<double>(kinds) / total;
      const double p = (static_cast<double>(count) - D) / total + gamma * lower;
      table[key].log10_p = static_cast<float>(std::log10(p));
      auto& m = kept_mass[h];
      m.first += p, m.second += lower;
    }
    auto& contexts = lm.grams_[static_cast<size_t>(n - 2)];
    for (const auto& [h, mass] : kept_mass) {
      if (!contexts.count(h)) continue;  // not reached: a kept n-gram's context is counted at least as often
      const double bow = std::max(1e-12, 1.0 - mass.first) / std::max(1e-12, 1.0 - mass.second);
      contexts[h].log10_bow = static_cast<float>(std::log10(bow));
    }
  }
  return lm;
}

const CharLm::Entry* CharLm::find(std::span<const std::string> ngram) const {
  if (ngram.empty() || ngram.size() > grams_.size()) return nullptr;
  const auto& table = grams_[ngram.size() - 1];
  const auto it = table.find(join(ngram));
  return it == table.end() ? nullptr : &it->second;
}

double CharLm::log10_prob(std::span<const std::string> context, const std::string& symbol) const {
  if (grams_.empty()) throw InputError("char LM: the model is empty");
  const size_t keep = std::min(context.size(), static_cast<size_t>(order_ - 1));
  std::vector<std::string> ngram(context.end() - static_cast<std::ptrdiff_t>(keep), context.end());
  ngram.push_back(find(std::span(&symbol, 1)) ? symbol : std::string(kUnk));
  double backoff = 0;
  for (size_t start = 0; start < ngram.size(); ++start) {
    const std::span<const std::string> g = std::span(ngram).subspan(start);
    if (const Entry* e = find(g)) return backoff + e->log10_p;
    if (const Entry* h = find(g.first(g.size() - 1))) backoff += h->log10_bow;
  }
  return backoff + grams_[0].at(kUnk).log10_p;  // not reached: the unigram is always there
}

std::vector<int64_t> CharLm::counts() const {
  std::vector<int64_t> out;
  for (const auto& t : grams_) out.push_back(static_cast<int64_t>(t.size()));
  return out;
}

void CharLm::save_arpa(const std::filesystem::path& path) const {
  std::ostringstream out;
  out << "\\data\\\n";
  for (size_t n = 0; n < grams_.size(); ++n) out << "ngram " << n + 1 << "=" << grams_[n].size() << "\n";
  char number[32];
  for (size_t n = 0; n < grams_.size(); ++n) {
    out << "\n\\" << n + 1 << "-grams:\n";
    std::vector<std::pair<std::string, Entry>> sorted(grams_[n].begin(), grams_[n].end());
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [key, e] : sorted) {
      std::snprintf(number, sizeof number, "%.6g", e.log10_p);
      out << number << '\t';
      const std::vector<std::string> symbols = split(key);
      for (size_t i = 0; i < symbols.size(); ++i) out << (i ? " " : "") << (symbols[i] == " " ? kSpace : symbols[i]);
      if (n + 1 < grams_.size() && e.log10_bow != 0) {
        std::snprintf(number, sizeof number, "%.6g", e.log10_bow);
        out << '\t' << number;
      }
      out << '\n';
    }
  }
  out << "\n\\end\\\n";
  const std::string text = out.str();
  if (path.extension() != ".gz") {
    common::write_file_atomically(path, text);
    return;
  }
  const std::filesystem::path partial = path.string() + ".partial";
  gzFile gz = gzopen(partial.c_str(), "wb9");
  if (gz == nullptr) throw IoError(path.string() + ": cannot write");
  const bool ok = gzwrite(gz, text.data(), static_cast<unsigned>(text.size())) == static_cast<int>(text.size());
  if (gzclose(gz) != Z_OK || !ok) throw IoError(path.string() + ": writing failed");
  std::filesystem::rename(partial, path);
}

CharLm CharLm::load_arpa(const std::filesystem::path& path) {
  gzFile gz = gzopen(path.c_str(), "rb");  // reads plain files as they are
  if (gz == nullptr) throw InputError(path.string(), "cannot open the ARPA file");
  std::string text;
  char buffer[1 << 16];
  int got = 0;
  while ((got = gzread(gz, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(got));
  const bool read_error = got < 0;
  gzclose(gz);
  if (read_error) throw InputError(path.string(), "the ARPA file could not be read (corrupt compression?)");

  CharLm lm;
  std::vector<int64_t> declared;
  int section = -1;  // -1: before \data\, 0: in \data\, n: in the n-grams
  bool ended = false;
  std::istringstream in(text);
  std::string line;
  int64_t number = 0;
  auto fail = [&](const std::string& what) { throw InputError(path.string() + ":" + std::to_string(number), what); };
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (line == "\\data\\") {
      section = 0;
      continue;
    }
    if (line == "\\end\\") {
      ended = true;
      break;
    }
    if (section == -1) continue;  // a header before \data\ is allowed
    if (line.size() > 8 && line.front() == '\\' && line.substr(line.size() - 7) == "-grams:") {
      const int n = std::atoi(line.c_str() + 1);
      if (n != section + 1 || n > static_cast<int>(declared.size())) fail("unexpected section " + line);
      section = n;
      lm.grams_.emplace_back();
      continue;
    }
    std::istringstream fields(line);
    if (section == 0) {
      std::string word, count;
      fields >> word >> count;
      const size_t eq = count.find('=');
      if (word != "ngram" || eq == std::string::npos ||
          std::atoi(count.c_str()) != static_cast<int>(declared.size()) + 1)
        fail("expected \"ngram N=COUNT\" in \\data\\, got \"" + line + "\"");
      declared.push_back(std::atoll(count.c_str() + eq + 1));
      continue;
    }
    std::vector<std::string> tokens;
    for (std::string t; fields >> t;) tokens.push_back(t);
    const size_t n = static_cast<size_t>(section);
    if (tokens.size() != n + 1 && tokens.size() != n + 2)
      fail("expected a probability, " + std::to_string(n) + " symbol(s) and an optional backoff weight");
    Entry e;
    char* end = nullptr;
    e.log10_p = std::strtof(tokens[0].c_str(), &end);
    if (end == tokens[0].c_str() || *end != '\0' || !std::isfinite(e.log10_p)) fail("bad probability " + tokens[0]);
    if (tokens.size() == n + 2) {
      e.log10_bow = std::strtof(tokens.back().c_str(), &end);
      if (end == tokens.back().c_str() || *end != '\0' || !std::isfinite(e.log10_bow))
        fail("bad backoff weight " + tokens.back());
    }
    std::vector<std::string> symbols(tokens.begin() + 1, tokens.begin() + 1 + static_cast<std::ptrdiff_t>(n));
    for (auto& s : symbols) {
      if (s == kSpace) s = " ";
    }
    lm.grams_.back()[join(symbols)] = e;
  }
  if (!ended) throw InputError(path.string(), "no \\end\\ line: the ARPA file is truncated");
  if (declared.empty() || lm.grams_.size() != declared.size())
    throw InputError(path.string(), "the ARPA file declares " + std::to_string(declared.size()) + " orders but holds " +
                                        std::to_string(lm.grams_.size()));
  for (size_t n = 0; n < declared.size(); ++n) {
    if (static_cast<int64_t>(lm.grams_[n].size()) != declared[n])
      throw InputError(path.string(), "\\data\\ declares " + std::to_string(declared[n]) + " " + std::to_string(n + 1) +
                                          "-grams, the file holds " + std::to_string(lm.grams_[n].size()));
  }
  if (!lm.grams_[0].count(kUnk)) throw InputError(path.string(), "the unigrams have no <unk>");
  lm.order_ = static_cast<int>(declared.size());
  return lm;
}

}  // namespace attune::text
