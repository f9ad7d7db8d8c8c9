#include <gtest/gtest.h>

#include <cstdio>

#include "attune/error.h"
#include "common/file_util.h"
#include "common/progress.h"
#include "support/test_support.h"

namespace attune::common {
namespace {

TEST(Progress, FormatsCountRateAndEta) {
  // 25 of 100 in 5 s: 5 items/s, 75 left -> 15 s.
  std::string line = format_progress("files", 25, 100, 5.0, "files", "", 10);
  EXPECT_EQ(line, "files 25/100 [##........]  25% 5 files/s ETA 0:15");
  EXPECT_EQ(format_progress("read", 7, 0, 2.0, "MB", "loss 2.5", 10), "read 7 MB 3.5 MB/s elapsed 0:02 loss 2.5");
  EXPECT_EQ(format_duration(3725), "1:02:05");
  EXPECT_EQ(format_duration(-1), "?");
}

TEST(Progress, PlainModePrintsLinesNotCarriageReturns) {
  std::FILE* out = std::tmpfile();
  {
    Progress p("job", 3, "items", {.out = out, .live = 0, .interval_s = 0});
    p.advance();
    p.advance(2);
  }
  std::rewind(out);
  char buf[1024] = {};
  size_t n = std::fread(buf, 1, sizeof(buf) - 1, out);
  std::fclose(out);
  std::string text(buf, n);
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_NE(text.find("job 3/3"), std::string::npos) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);  // two advances + finish
}

TEST(FileUtil, AtomicWriteLeavesNothingBehindOnFailure) {
  testing::TempDir dir;
  EXPECT_THROW(write_atomically(dir / "out.bin", [](const auto& tmp) { throw IoError("simulated"); }), IoError);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
  write_file_atomically(dir / "out.bin", "hello");
  EXPECT_EQ(read_file(dir / "out.bin"), "hello");
  EXPECT_THROW(read_file(dir.path()), InputError);
  EXPECT_THROW(read_file(dir / "missing"), InputError);
}

}  // namespace
}  // namespace attune::common
