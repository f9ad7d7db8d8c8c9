// The process runner behind the espeak-ng back end: no shell, stdin/stdout both ways, timeouts.
#include <gtest/gtest.h>

#include <chrono>

#include "attune/error.h"
#include "support/test_support.h"
#include "tts/subprocess.h"

namespace attune::tts {
namespace {

TEST(RunProcess, PassesArgumentsVerbatimWithoutAShell) {
  testing::TempDir dir;
  const std::string marker = (dir / "pwned").string();
  const std::string hostile = "$(touch " + marker + "); `touch " + marker + "` ' \" | > " + marker + " \n && ls";
  ProcessResult r = run_process({"printf", "%s", hostile}, "");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, hostile);
  EXPECT_FALSE(std::filesystem::exists(marker)) << "something interpreted the argument";
}

TEST(RunProcess, StreamsLargeInputAndOutputWithoutDeadlock) {
  std::string big;
  for (int i = 0; big.size() < (3u << 20); ++i) big += "line " + std::to_string(i) + "\n";
  ProcessResult r = run_process({"cat"}, big);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.size(), big.size());
  EXPECT_TRUE(r.out == big);
}

TEST(RunProcess, AChildThatIgnoresStdinDoesNotKillUsWithSigpipe) {
  std::string big(4u << 20, 'x');
  ProcessResult r = run_process({"true"}, big);
  EXPECT_EQ(r.exit_code, 0);
}

TEST(RunProcess, ReportsExitStatusAndStderr) {
  ProcessResult r = run_process({"ls", "/definitely/not/here"}, "");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_FALSE(r.err.empty());
  EXPECT_EQ(run_process({"false"}, "").exit_code, 1);
}

TEST(RunProcess, KillsAHungChildAtTheDeadline) {
  auto start = std::chrono::steady_clock::now();
  try {
    run_process({"sleep", "30"}, "", {.timeout_s = 0.3});
    FAIL() << "expected a timeout";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("killed"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
}

TEST(RunProcess, MissingProgramIsProgramNotFound) {
  EXPECT_THROW(run_process({"attune-no-such-program-xyz"}, "hi"), ProgramNotFoundError);
  EXPECT_THROW(run_process({"/nonexistent/dir/prog"}, "hi"), ProgramNotFoundError);
  EXPECT_FALSE(program_exists("attune-no-such-program-xyz"));
  EXPECT_TRUE(program_exists("sh"));
  EXPECT_THROW(run_process({}, ""), ConfigError);
}

}  // namespace
}  // namespace attune::tts
