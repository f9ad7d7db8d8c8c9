// Tokenizer behaviour beyond the conformance vectors: round trips of arbitrary bytes, added and
// special tokens, streaming decode, the long-word BPE path against a naive reference BPE, and clear
// errors for bad files.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "attune/error.h"
#include "common/file_util.h"
#include "support/test_support.h"
#include "text/pretokenizer.h"
#include "text/tokenizer.h"
#include "text/unicode.h"

namespace fs = std::filesystem;
using attune::InputError;
using attune::testing::TempDir;
using attune::testing::write_bytes;
using namespace attune::text;

namespace {

const Tokenizer& qwen2() {
  static const Tokenizer tok = Tokenizer::load(*attune::testing::shared_dir() / "fixtures/tokenizer/qwen2");
  return tok;
}
const Tokenizer& gpt2() {
  static const Tokenizer tok = Tokenizer::load(*attune::testing::shared_dir() / "fixtures/tokenizer/gpt2");
  return tok;
}
// attune-small's byte-level BPE (in the repository, so these tests run on a fresh clone).
const Tokenizer& shipped() {
  static const Tokenizer tok = Tokenizer::load(attune::testing::source_dir() / "models/attune-small/tokenizer.json");
  return tok;
}

// Every real tokenizer at hand: the shipped one, and GPT-2's and Qwen2's when ../shared is there.
struct Real {
  const char* name;
  const Tokenizer* tok;
  bool nfc;  // the tokenizer normalises to NFC first
};
std::vector<Real> real_tokenizers() {
  std::vector<Real> out = {{"attune-small", &shipped(), true}};
  if (attune::testing::shared_dir()) {
    out.push_back({"qwen2", &qwen2(), true});
    out.push_back({"gpt2", &gpt2(), false});
  }
  return out;
}

// A small tokenizer.json: the 256 bytes, the given merges (in order), optional added tokens.
nlohmann::json tiny_tokenizer(const std::vector<std::pair<std::string, std::string>>& merges,
                              const nlohmann::json& added = nlohmann::json::array(), bool merges_as_pairs = false) {
  nlohmann::json vocab = nlohmann::json::object();
  int id = 0;
  for (int b = 0; b < 256; ++b) vocab[detail::bytes_to_token(std::string(1, static_cast<char>(b)))] = id++;
  nlohmann::json merge_list = nlohmann::json::array();
  for (const auto& [a, b] : merges) {
    const std::string ta = detail::bytes_to_token(a), tb = detail::bytes_to_token(b);
    if (!vocab.contains(ta + tb)) vocab[ta + tb] = id++;
    if (merges_as_pairs) {
      merge_list.push_back({ta, tb});
    } else {
      merge_list.push_back(ta + " " + tb);
    }
  }
  return {{"version", "1.0"},
          {"added_tokens", added},
          {"normalizer", nullptr},
          {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
          {"decoder", {{"type", "ByteLevel"}}},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merge_list}}}};
}

std::string random_bytes(std::mt19937& rng, size_t n) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::string s;
  for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(byte(rng)));
  return s;
}

std::string random_utf8(std::mt19937& rng, size_t chars) {
  static const std::vector<std::string> pool = {"a",
                                                "Z",
                                                " ",
                                                "  ",
                                                "\n",
                                                "\t",
                                                "\r\n",
                                                "\x01",
                                                "\x7F",
                                                "\u00E9",
                                                "\u00DF",
                                                "\u4F60\u597D",
                                                "\u3002",
                                                "\uFF1F",
                                                "\U0001F600",
                                                "\U0001F44D\U0001F3FD",
                                                "\U0001F468\u200D\U0001F469\u200D\U0001F467",
                                                "\u0915\u094D\u0937",
                                                "\u05E9\u05C1",
                                                "\u0645\u064E",
                                                "q\u0307",
                                                "\u0E01\u0E34",
                                                "\u00BD",
                                                "2024",
                                                "'s",
                                                "'LL",
                                                "...",
                                                "\u2014",
                                                "\uFEFF",
                                                std::string("\x00", 1)};
  std::uniform_int_distribution<size_t> pick(0, pool.size() - 1);
  std::string s;
  for (size_t i = 0; i < chars; ++i) s += pool[pick(rng)];
  return s;
}

// Reference BPE (the algorithm of GPT-2's encoder.py, written independently of the library):
// repeatedly merge the adjacent pair with the lowest rank.
std::vector<std::string> reference_bpe(const std::vector<std::string>& symbols_in,
                                       const std::map<std::pair<std::string, std::string>, int>& ranks) {
  std::vector<std::string> symbols = symbols_in;
  for (;;) {
    int best = -1;
    size_t at = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      auto it = ranks.find({symbols[i], symbols[i + 1]});
      if (it != ranks.end() && (best < 0 || it->second < best)) {
        best = it->second;
        at = i;
      }
    }
    if (best < 0) return symbols;
    symbols[at] += symbols[at + 1];
    symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(at) + 1);
  }
}

}  // namespace

TEST(Tokenizer, RoundTripsArbitraryUtf8) {
  const std::string samples[] = {"\U0001F680 (normal) \U0001F636\u200D\U0001F32B\uFE0F \u2705",
                                 "\u6211\u60F3\u5728apple\u5DE5\u4F5C1314151\u5929\uFF5E",
                                 "q\u0307 \u0915\u094D\u0937\u093F \u05E9\u05B8\u05C1",  // NFC with combining marks
                                 std::string("ctl \x00\x01\x1B[0m\x7F\t\r\n end", 19), ""};
  for (const Real& r : real_tokenizers()) {
    const Tokenizer& tok = *r.tok;
    std::mt19937 rng(7);
    for (int i = 0; i < 300; ++i) {
      const std::string text = random_utf8(rng, 1 + static_cast<size_t>(i % 40));
      // A tokenizer that normalises to NFC gives back the NFC form (equal for NFC input).
      EXPECT_EQ(tok.decode(tok.encode(text)), r.nfc ? unicode::nfc(text) : text) << r.name;
    }
    for (const auto& sample : samples) EXPECT_EQ(tok.decode(tok.encode(sample)), sample) << r.name;
    if (r.nfc) {  // non-NFC input comes back composed
      EXPECT_EQ(tok.decode(tok.encode("Cafe\u0301")), "Caf\u00E9") << r.name;
      EXPECT_EQ(tok.encode("Cafe\u0301"), tok.encode("Caf\u00E9")) << r.name;
    }
  }
}

TEST(Tokenizer, InvalidUtf8RoundTripsByteForByte) {
  for (const Real& r : real_tokenizers()) {
    const Tokenizer& tok = *r.tok;
    std::mt19937 rng(11);
    for (int i = 0; i < 300; ++i) {
      const std::string bytes = random_bytes(rng, static_cast<size_t>(1 + i % 64));
      EXPECT_EQ(tok.decode(tok.encode(bytes)), r.nfc ? unicode::nfc(bytes) : bytes) << r.name;
    }
    const std::string broken = "abc\xFF\xFE def \xE4\xBD \xC3(\x80";
    EXPECT_EQ(tok.decode(tok.encode(broken)), broken) << r.name;
    // Each invalid byte is its own token, the byte token.
    const auto ids = tok.encode("\xFF");
    ASSERT_EQ(ids.size(), 1u) << r.name;
    EXPECT_EQ(tok.token_bytes(ids[0]), "\xFF") << r.name;
    // replace_invalid gives valid UTF-8 with U+FFFD per maximal ill-formed subpart.
    DecodeOptions replace;
    replace.replace_invalid = true;
    EXPECT_EQ(tok.decode(tok.encode("a\xFF"
                                    "b\xE4\xBD"
                                    "c"),
                         replace),
              "a\uFFFDb\uFFFDc")
        << r.name;
  }
}

TEST(Tokenizer, SpecialTokensAreMatchedBeforeBpe) {
  if (attune::testing::shared_dir()) {  // Qwen2's published ids
    const Tokenizer& tok = qwen2();
    EXPECT_EQ(tok.token_to_id("<|endoftext|>"), 151643);
    EXPECT_EQ(tok.token_to_id("<|im_start|>"), 151644);
    EXPECT_EQ(tok.token_to_id("<|im_end|>"), 151645);
    EXPECT_TRUE(tok.is_special(151645));
    EXPECT_FALSE(tok.is_special(151657));  // <tool_call> is added but not special
    EXPECT_EQ(tok.vocab_size(), 151665);
  }
  // attune-small's, as its tokenizer.json lists them.
  const auto spec = nlohmann::json::parse(
      attune::common::read_file(attune::testing::source_dir() / "models/attune-small/tokenizer.json"));
  for (const auto& added : spec.at("added_tokens")) {
    EXPECT_EQ(shipped().token_to_id(added.at("content").get<std::string>()), added.at("id").get<int32_t>());
    EXPECT_EQ(shipped().is_special(added.at("id").get<int32_t>()), added.at("special").get<bool>());
  }
  for (const Real& r : real_tokenizers()) {
    const Tokenizer& tok = *r.tok;
    if (!tok.find_token("<|im_start|>")) continue;  // GPT-2 has no chat tokens
    const int32_t start = tok.token_to_id("<|im_start|>"), end = tok.token_to_id("<|im_end|>");
    EXPECT_FALSE(tok.find_token("<|not_a_token|>").has_value());
    EXPECT_THROW(tok.token_to_id("<|not_a_token|>"), InputError);
    EXPECT_EQ(tok.id_to_token(tok.token_to_id("\u0120world")), "\u0120world");

    const std::string user = "user\nHow are you?";
    std::vector<int32_t> expected = {start};
    for (int32_t id : tok.encode(user)) expected.push_back(id);
    expected.push_back(end);
    for (int32_t id : tok.encode("\n")) expected.push_back(id);
    EXPECT_EQ(tok.encode("<|im_start|>" + user + "<|im_end|>\n"), expected) << r.name;
    EXPECT_EQ(tok.decode(expected), "<|im_start|>" + user + "<|im_end|>\n") << r.name;

    DecodeOptions skip;
    skip.skip_special = true;
    EXPECT_EQ(tok.decode(expected, skip), user + "\n") << r.name;

    // encode_ordinary: the markup is text.
    const auto plain = tok.encode_ordinary("<|im_end|>");
    EXPECT_GT(plain.size(), 1u) << r.name;
    EXPECT_EQ(std::count(plain.begin(), plain.end(), end), 0) << r.name;
    EXPECT_EQ(tok.decode(plain), "<|im_end|>") << r.name;
  }
}

TEST(Tokenizer, AddedTokenFlags) {
  const nlohmann::json added = {
      {{"id", 300}, {"content", "<l>"}, {"lstrip", true}, {"special", true}},
      {{"id", 301}, {"content", "<r>"}, {"rstrip", true}, {"special", true}},
      {{"id", 302}, {"content", "<w>"}, {"single_word", true}, {"special", false}, {"normalized", false}},
  };
  const Tokenizer tok = Tokenizer::from_json_text(tiny_tokenizer({}, added).dump(), "tiny");
  const int32_t a = 'a', b = 'b', space = ' ';                                 // tiny_tokenizer gives byte b the id b
  EXPECT_EQ(tok.encode("a <l> b"), (std::vector<int32_t>{a, 300, space, b}));  // space before <l> swallowed
  EXPECT_EQ(tok.encode("a <r> b"), (std::vector<int32_t>{a, space, 301, b}));  // space after <r> swallowed
  EXPECT_EQ(tok.encode("a <w> b"), (std::vector<int32_t>{a, space, 302, space, b}));
  const auto inside_word = tok.encode("a<w>b");
  EXPECT_EQ(std::count(inside_word.begin(), inside_word.end(), 302), 0);
  EXPECT_EQ(tok.vocab_size(), 303);
}

TEST(Tokenizer, MergeFormatsAndIgnoreMerges) {
  const std::vector<std::pair<std::string, std::string>> merges = {{"a", "b"}, {"ab", "c"}, {"b", "c"}};
  const Tokenizer strings = Tokenizer::from_json_text(tiny_tokenizer(merges).dump(), "strings");
  const Tokenizer pairs =
      Tokenizer::from_json_text(tiny_tokenizer(merges, nlohmann::json::array(), true).dump(), "pairs");
  EXPECT_EQ(strings.encode("abc abcd"), pairs.encode("abc abcd"));
  EXPECT_EQ(strings.encode("abc"), std::vector<int32_t>{strings.token_to_id("abc")});

  // ignore_merges: a word that is in the vocabulary is taken whole even when the merges would not build it.
  auto j = tiny_tokenizer({{"a", "b"}, {"b", "c"}});
  j["model"]["vocab"]["abc"] = 400;
  EXPECT_EQ(Tokenizer::from_json_text(j.dump(), "no ignore").encode("abc").size(), 2u);
  j["model"]["ignore_merges"] = true;
  EXPECT_EQ(Tokenizer::from_json_text(j.dump(), "ignore").encode("abc"), std::vector<int32_t>{400});
}

TEST(Tokenizer, LongWordsMatchAReferenceBpe) {
  // The merge ranks of attune-small's tokenizer.json, and of GPT-2's merges.txt when ../shared is there.
  std::vector<std::pair<const Tokenizer*, std::map<std::pair<std::string, std::string>, int>>> cases;
  {
    const auto spec = nlohmann::json::parse(
        attune::common::read_file(attune::testing::source_dir() / "models/attune-small/tokenizer.json"));
    std::map<std::pair<std::string, std::string>, int> ranks;
    int rank = 0;
    for (const auto& m : spec.at("model").at("merges")) {
      const std::string line = m.get<std::string>();
      const size_t sp = line.find(' ');
      ranks[{line.substr(0, sp), line.substr(sp + 1)}] = rank++;
    }
    cases.emplace_back(&shipped(), std::move(ranks));
  }
  if (auto shared = attune::testing::shared_dir()) {
    std::ifstream in(*shared / "fixtures/tokenizer/gpt2/merges.txt");
    std::map<std::pair<std::string, std::string>, int> ranks;
    std::string line;
    int rank = 0;
    while (std::getline(in, line)) {
      if (line.rfind("#version", 0) == 0 || line.empty()) continue;
      const size_t sp = line.find(' ');
      ranks[{line.substr(0, sp), line.substr(sp + 1)}] = rank++;
    }
    cases.emplace_back(&gpt2(), std::move(ranks));
  }
  for (const auto& [tok, ranks] : cases) {
    std::mt19937 rng(3);
    std::uniform_int_distribution<int> letter(0, 5);
    for (size_t length : {5u, 40u, 255u, 256u, 257u, 600u, 3000u}) {
      std::string word;
      for (size_t i = 0; i < length; ++i) word.push_back(static_cast<char>('a' + (i % 7 == 0 ? 0 : letter(rng))));
      std::vector<std::string> symbols;
      for (char c : word) symbols.emplace_back(1, c);
      std::vector<int32_t> expected;
      for (const auto& sym : reference_bpe(symbols, ranks)) expected.push_back(tok->token_to_id(sym));
      EXPECT_EQ(tok->encode(word), expected) << "word of " << length << " letters, " << tok->describe();
    }
    const std::string run(5000, 'a');  // one pre-token of 5000 bytes
    EXPECT_EQ(tok->decode(tok->encode(run)), run);
  }
}

TEST(Tokenizer, StreamDecoderHoldsBackPartialCharacters) {
  for (const Real& r : real_tokenizers()) {
    if (!r.tok->find_token("<|im_end|>")) continue;
    const Tokenizer& tok = *r.tok;
    const std::string text =
        "Hi \U0001F600\U0001F44D\U0001F3FD \u4F60\u597D\u3002 \u0915\u094D\u0937 caf\u00E9 "
        "\U00020BB7\U0001FAE0\u1A00\u2C80 <|im_end|>";
    const auto ids = tok.encode(text);
    StreamDecoder stream(tok);
    std::string joined;
    int held = 0;
    for (int32_t id : ids) {
      const std::string piece = stream.push(id);
      EXPECT_TRUE(unicode::is_valid_utf8(piece)) << r.name << ": piece for id " << id;
      if (piece.empty()) ++held;
      joined += piece;
    }
    joined += stream.finish();
    EXPECT_EQ(joined, text) << r.name;
    EXPECT_GT(held, 0) << r.name << ": the emoji should span several byte tokens";

    // A sequence cut at the end is flushed by finish(); with replace_invalid it becomes U+FFFD.
    const auto cut = tok.encode("a\xE4\xBD");
    StreamDecoder raw(tok);
    std::string out = raw.push(cut);
    EXPECT_EQ(out, "a") << r.name;
    EXPECT_EQ(raw.pending_bytes(), 2u) << r.name;
    EXPECT_EQ(out + raw.finish(), "a\xE4\xBD") << r.name;
    DecodeOptions replace;
    replace.replace_invalid = true;
    StreamDecoder replaced(tok, replace);
    std::string got = replaced.push(cut);
    got += replaced.finish();
    EXPECT_EQ(got, "a\uFFFD") << r.name;
    // A sequence that turns out invalid is released as soon as that is known.
    StreamDecoder early(tok, replace);
    EXPECT_EQ(early.push(tok.encode("\xE4\xBD")), "") << r.name;
    EXPECT_EQ(early.push(tok.encode("x")), "\uFFFDx") << r.name;
  }
}

TEST(Tokenizer, DecodeRejectsUnknownIds) {
  for (const Real& r : real_tokenizers()) {
    const Tokenizer& tok = *r.tok;
    const std::vector<int32_t> bad = {tok.encode("Hello").front(), static_cast<int32_t>(tok.vocab_size()) + 999};
    EXPECT_THROW(tok.decode(bad), InputError) << r.name;
    const std::vector<int32_t> negative = {-1};
    EXPECT_THROW(tok.decode(negative), InputError) << r.name;
    StreamDecoder stream(tok);
    EXPECT_THROW(stream.push(static_cast<int32_t>(tok.vocab_size())), InputError) << r.name;
  }
}

TEST(Tokenizer, SafeToShareAcrossThreads) {
  const Tokenizer& shared_tok = attune::testing::shared_dir() ? qwen2() : shipped();
  std::mt19937 rng(5);
  std::vector<std::string> texts;
  for (int i = 0; i < 64; ++i) texts.push_back(random_utf8(rng, 50));
  std::vector<std::vector<int32_t>> expected;
  for (const auto& t : texts) expected.push_back(shared_tok.encode(t));
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const Tokenizer copy = shared_tok;  // copies share the loaded data
      for (int r = 0; r < 20; ++r) {
        for (size_t i = 0; i < texts.size(); ++i) {
          const size_t k = (i + static_cast<size_t>(t) * 7) % texts.size();
          if (copy.encode(texts[k]) != expected[k]) ++mismatches;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(Tokenizer, LoadsEveryLayout) {
  const std::string text = "Hello, world! \u4F60\u597D <|im_start|>";
  // A directory or its tokenizer.json.
  const fs::path shipped_dir = attune::testing::source_dir() / "models/attune-small";
  EXPECT_EQ(Tokenizer::load(shipped_dir).encode(text), Tokenizer::load(shipped_dir / "tokenizer.json").encode(text));
  EXPECT_NE(shipped().describe().find("NFC"), std::string::npos);
  if (auto shared = attune::testing::shared_dir()) {
    const fs::path dir = *shared / "fixtures/tokenizer/qwen2";
    const Tokenizer from_file = Tokenizer::load(dir / "tokenizer.json");
    const Tokenizer from_vocab = Tokenizer::load(dir / "vocab.json");  // merges.txt beside it
    EXPECT_EQ(from_file.encode(text), from_vocab.encode(text));
    EXPECT_NE(from_file.describe().find("NFC"), std::string::npos);
    // GPT-2's pair without tokenizer_config.json: <|endoftext|> is special, GPT-2's regex.
    const Tokenizer gpt = Tokenizer::load(*shared / "fixtures/tokenizer/gpt2");
    EXPECT_EQ(gpt.encode("a<|endoftext|>"), (std::vector<int32_t>{64, 50256}));
  }
}

// ---- bad input ------------------------------------------------------------------------------------------

namespace {
std::string load_error(const fs::path& path) {
  try {
    Tokenizer::load(path);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace

TEST(TokenizerErrors, NameTheFileAndTheProblem) {
  TempDir tmp;
  auto expect_error = [&](const std::string& name, const std::string& content, const std::string& needle) {
    const fs::path p = tmp / name;
    write_bytes(p, content);
    const std::string msg = load_error(p);
    EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << "expected \"" << needle << "\" in: " << msg;
  };
  expect_error("malformed.json", "{\"model\": {\"type\": \"BPE\", ", "malformed JSON");
  expect_error("array.json", "[1, 2]", "expected a JSON object");
  expect_error("nomodel.json", "{\"version\": \"1.0\"}", "no \"model\"");
  auto j = tiny_tokenizer({{"a", "b"}});
  j["model"]["type"] = "WordPiece";
  expect_error("wordpiece.json", j.dump(), "model.type is \"WordPiece\"");
  j = tiny_tokenizer({{"a", "b"}});
  j["model"].erase("merges");
  expect_error("nomerges.json", j.dump(), "model.merges is missing");
  j = tiny_tokenizer({{"a", "b"}});
  j["model"]["merges"].push_back("x\u0120 \u0120y");
  expect_error("badmerge.json", j.dump(), "model.merges[1]");
  j = tiny_tokenizer({{"a", "b"}});
  j["model"]["merges"].push_back(42);
  expect_error("mergetype.json", j.dump(), "model.merges[1]: expected");
  j = tiny_tokenizer({});
  j["pre_tokenizer"] = {{"type", "Metaspace"}};
  expect_error("metaspace.json", j.dump(), "Metaspace");
  j = tiny_tokenizer({});
  j["normalizer"] = {{"type", "NFKC"}};
  expect_error("nfkc.json", j.dump(), "NFKC");
  j = tiny_tokenizer({});
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  expect_error("regex.json", j.dump(), "cannot compile");
}

TEST(TokenizerErrors, DirectoriesAndVocabMergesPairs) {
  TempDir tmp;
  const std::string empty_dir_msg = load_error(tmp.path());
  EXPECT_NE(empty_dir_msg.find(tmp.path().string()), std::string::npos);
  EXPECT_NE(empty_dir_msg.find("no tokenizer.json"), std::string::npos) << empty_dir_msg;
  EXPECT_NE(load_error(tmp / "missing").find("no such file"), std::string::npos);

  write_bytes(tmp / "vocab.json", "{\"a\": 0, \"b\": 1, \"ab\": 2}");
  EXPECT_NE(load_error(tmp.path()).find("no merges.txt"), std::string::npos) << load_error(tmp.path());
  write_bytes(tmp / "merges.txt", "#version: 0.2\na b\nthis is bad\n");
  const std::string msg = load_error(tmp.path());
  EXPECT_NE(msg.find("merges.txt"), std::string::npos) << msg;
  EXPECT_NE(msg.find("line 3"), std::string::npos) << msg;
  write_bytes(tmp / "vocab.json", "{\"a\": 0, ");
  EXPECT_NE(load_error(tmp.path()).find("malformed JSON"), std::string::npos);
}

// A crafted tokenizer.json nesting Sequence 20k deep (or just 20 deep, under the JSON depth cap):
// a one-line error, not a stack overflow.
TEST(TokenizerMalformed, DeeplyNestedSequencesAreRefused) {
  for (const int depth : {20, 20000}) {
    auto nested = [&](const std::string& list_key, const std::string& leaf) {
      std::string s;
      for (int i = 0; i < depth; ++i) s += R"({"type":"Sequence",")" + list_key + R"(":[)";
      s += leaf;
      for (int i = 0; i < depth; ++i) s += "]}";
      return s;
    };
    for (const auto& [field, text] : {std::pair{"pre_tokenizer", nested("pretokenizers", R"({"type":"ByteLevel"})")},
                                      std::pair{"normalizer", nested("normalizers", R"({"type":"NFC"})")}}) {
      nlohmann::json j = tiny_tokenizer({});
      j[field] = "PLACEHOLDER";
      std::string file = j.dump();
      file.replace(file.find("\"PLACEHOLDER\""), 13, text);
      try {
        Tokenizer::from_json_text(file, "deep.json");
        ADD_FAILURE() << field << " accepted";
      } catch (const InputError& e) {
        const std::string expected = depth == 20 ? "nested deeper than 16 levels" : "JSON nested deeper than 64 levels";
        EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
      }
    }
  }
}

// A decoder whose "type" is not a string (found by fuzz_tokenizer_json: nlohmann's value() threw
// type_error) is refused in one line.
TEST(TokenizerMalformed, DecoderTypeOfTheWrongKindIsRefused) {
  nlohmann::json j = tiny_tokenizer({});
  j["decoder"] = {{"type", true}};
  try {
    Tokenizer::from_json_text(j.dump(), "odd.json");
    ADD_FAILURE() << "accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("odd.json: decoder: decoder type"), std::string::npos) << e.what();
  }
}

// A 100-byte file must not size the id tables by an id of two billion.
TEST(TokenizerMalformed, SparseHugeIdsAreRefused) {
  nlohmann::json j = tiny_tokenizer({});
  j["added_tokens"] = nlohmann::json::array({{{"id", 2000000000}, {"content", "<|x|>"}, {"special", true}}});
  try {
    Tokenizer::from_json_text(j.dump(), "sparse.json");
    ADD_FAILURE() << "accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("the largest id, 2000000000, is far above the 257 tokens"), std::string::npos)
        << e.what();
  }
}
