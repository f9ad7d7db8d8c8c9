#include "data/csv.h"

#include <algorithm>

#include "attune/error.h"
#include "common/file_util.h"

namespace attune::data {

std::vector<CsvRecord> parse_csv(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::vector<CsvRecord> records;
  size_t i = 0;
  int64_t line = 1;
  const size_t n = text.size();
  while (i < n) {
    // Blank lines separate nothing: skip them.
    if (text[i] == '\n' || text[i] == '\r') {
      if (text[i] == '\n') ++line;
      ++i;
      continue;
    }
    CsvRecord rec;
    rec.line = line;
    std::string field;
    bool end_of_record = false;
    while (!end_of_record) {
      field.clear();
      if (i < n && text[i] == '"') {
        ++i;
        bool closed = false;
        while (i < n) {
          char c = text[i++];
          if (c == '"') {
            if (i < n && text[i] == '"') {
              field += '"';
              ++i;
            } else {
              closed = true;
              break;
            }
          } else {
            if (c == '\n') ++line;
            field += c;
          }
        }
        if (!closed && rec.error.empty()) rec.error = "unterminated quoted field";
        // Anything between the closing quote and the next separator is kept, but flagged.
        while (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          if (rec.error.empty()) rec.error = "text after a closing quote";
          field += text[i++];
        }
      } else {
        while (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          if (text[i] == '"' && rec.error.empty()) rec.error = "quote inside an unquoted field";
          field += text[i++];
        }
      }
      rec.fields.push_back(field);
      if (i < n && text[i] == ',') {
        ++i;
      } else {
        end_of_record = true;
        if (i < n && text[i] == '\r') ++i;
        if (i < n && text[i] == '\n') {
          ++i;
          ++line;
        }
      }
    }
    records.push_back(std::move(rec));
  }
  return records;
}

int CsvTable::column(std::string_view name) const {
  auto it = std::find(header.begin(), header.end(), name);
  return it == header.end() ? -1 : static_cast<int>(it - header.begin());
}

CsvTable read_csv(const std::filesystem::path& path) {
  std::vector<CsvRecord> records = parse_csv(common::read_file(path));
  if (records.empty()) throw InputError(path.string(), "empty CSV file: expected a header row");
  if (!records[0].error.empty()) throw InputError(path.string(), "header: " + records[0].error);
  CsvTable table;
  table.header = std::move(records[0].fields);
  table.rows.assign(std::make_move_iterator(records.begin() + 1), std::make_move_iterator(records.end()));
  return table;
}

}  // namespace attune::data
