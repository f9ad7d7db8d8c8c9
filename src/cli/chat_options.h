// The model and session options `attune chat` and `attune demo` share, and loading the model with a
// line on the transcript saying what was loaded.
#pragma once

#include <cstdio>
#include <string>

#include "attune/runtime.h"

namespace CLI {
class App;
}

namespace attune::cli {

struct ChatModelOptions {
  std::string model;  // empty: the shipped default (models/attune-small of the source tree)
  std::string dtype = "auto";
  std::string device = "auto";
  bool no_speech = false;
  std::string heard_from;       // "": the model's choice
  double evidence_weight = -1;  // < 0: the model's
  bool greedy_words = false;    // greedy CTC words even with the model's character LM
  SessionOptions session;
};

void add_chat_model_options(CLI::App& app, ChatModelOptions& o);
// The model directory the options name, or the shipped default.
std::string chat_model_dir(const ChatModelOptions& o);
Model load_chat_model(const ChatModelOptions& o, std::FILE* transcript);
SessionOptions session_options(const ChatModelOptions& o);

}  // namespace attune::cli
