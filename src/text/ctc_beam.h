// CTC prefix beam search (Hannun et al. 2014, "First-pass large vocabulary continuous speech
// recognition using bi-directional recurrent DNNs") with a character language model fused in
// (shallow fusion): a prefix scores log p_ctc + weight * ln p_lm + bonus * characters. Torch-free.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "text/char_lm.h"

namespace attune::text {

struct CtcBeamOptions {
  int beam = 16;             // prefixes kept per frame
  double lm_weight = 0.8;    // on the natural-log LM probability of each character and of the end
  double char_bonus = 2.0;   // per character, against the LM's preference for short transcripts
  double prune_below = -12;  // characters whose log probability in a frame is lower are not tried
};

// The best transcript of `log_probs`: natural-log CTC posteriors, `frames` rows of 1 + alphabet
// (class 0 the blank; class i + 1 is alphabet[i]), row-major. As ctc_greedy_decode, no space at either
// end or twice in a row. `lm` may be null (then lm_weight and char_bonus are ignored: the most
// probable prefix, which can differ from greedy decoding's best path).
std::string ctc_beam_decode(std::span<const float> log_probs, int64_t frames, const std::vector<std::string>& alphabet,
                            const CharLm* lm, const CtcBeamOptions& options);

}  // namespace attune::text
