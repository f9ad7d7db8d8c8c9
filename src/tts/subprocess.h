// Running a helper program as a separate process, with no shell in between: the argument vector goes
// straight to posix_spawnp, text goes in on stdin, stdout and stderr come back as bytes, and a child
// that outlives its deadline is killed. This is how attune uses espeak-ng (GPL-3.0) without linking it.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "attune/error.h"

namespace attune::tts {

// The program could not be started because no executable of that name exists (or it is not executable).
class ProgramNotFoundError : public Error {
 public:
  using Error::Error;
};

struct ProcessResult {
  int exit_code = -1;  // the child's exit status; 128 + N when killed by signal N
  std::string out;     // everything it wrote to stdout
  std::string err;     // everything it wrote to stderr
};

struct ProcessLimits {
  double timeout_s = 60;                      // wall-clock limit; the child is killed with SIGKILL past it
  size_t max_output_bytes = size_t(1) << 30;  // stdout beyond this kills the child (a runaway)
};

// Runs argv[0] (searched in PATH when it has no '/') with argv[1..] as its arguments, writes `input`
// to its stdin and closes it, and collects stdout and stderr until the child exits. Nothing is
// interpreted by a shell. Throws ProgramNotFoundError when argv[0] cannot be executed, attune::Error
// on a timeout or a runaway output (naming the program and the limit), IoError when the OS refuses
// pipes or processes. Thread-safe: every descriptor is close-on-exec, so concurrent calls do not leak
// pipe ends into each other's children.
ProcessResult run_process(const std::vector<std::string>& argv, std::string_view input,
                          const ProcessLimits& limits = {});

// True when `program` names an executable file, directly (with a '/') or through PATH.
bool program_exists(const std::string& program);

// A long-running child that answers requests on its stdin and stdout (stderr goes to /dev/null),
// such as the attune-espeak synthesis server. One request at a time (not thread-safe). A child that
// does not answer in time, or exits, makes the call throw attune::Error; the destructor kills it.
class Coprocess {
 public:
  // Throws ProgramNotFoundError when argv[0] cannot be executed, IoError when the OS refuses.
  explicit Coprocess(const std::vector<std::string>& argv);
  ~Coprocess();
  Coprocess(const Coprocess&) = delete;
  Coprocess& operator=(const Coprocess&) = delete;

  void write_all(std::string_view bytes, double timeout_s);
  // The next line, without its '\n'.
  std::string read_line(double timeout_s);
  std::string read_exact(size_t n, double timeout_s);

 private:
  using Clock = std::chrono::steady_clock;
  // Appends what the child has written to buffer_; false at the end of its output.
  bool fill(Clock::time_point deadline);

  std::string program_;
  int pid_ = -1, in_ = -1, out_ = -1;
  std::string buffer_;
};

}  // namespace attune::tts
