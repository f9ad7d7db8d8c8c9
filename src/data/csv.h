// RFC 4180 CSV for the corpus readers (MELD, CPED, the speech metadata): quoted fields may hold
// commas, doubled quotes and line breaks; CRLF or LF line ends; a leading UTF-8 BOM is skipped
// (CPED starts with one). Malformed records are returned with `error` set, so a reader can report
// them with their line and go on.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace attune::data {

struct CsvRecord {
  int64_t line = 0;                 // 1-based line where the record starts
  std::vector<std::string> fields;  // as read, even when malformed
  std::string error;                // "" or what was wrong ("unterminated quoted field", ...)
};

// All records of `text`; blank lines are skipped.
std::vector<CsvRecord> parse_csv(std::string_view text);

// A CSV file whose first record is the header.
struct CsvTable {
  std::vector<std::string> header;
  std::vector<CsvRecord> rows;
  // Index of a header column, or -1.
  int column(std::string_view name) const;
};

// Throws InputError naming the path when the file is missing, unreadable or has no header.
CsvTable read_csv(const std::filesystem::path& path);

}  // namespace attune::data
