#include "file_table.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <utility>

#include <postern/sdk/text.hpp>

namespace postern::mapping_file {
namespace {

// Byte length of the Unicode White_Space character starting at `at`, or 0.
// The reference trims and splits lines on Unicode whitespace, so a
// no-break space between the two fields separates them there too.
std::size_t whitespace_length(std::string_view text, std::size_t at) noexcept {
  const auto c = static_cast<unsigned char>(text[at]);
  if (c == ' ' || (c >= '\t' && c <= '\r')) return 1;
  if (c < 0xC2) return 0;
  auto byte = [&](std::size_t k) -> unsigned {
    return at + k < text.size() ? static_cast<unsigned char>(text[at + k]) : 0u;
  };
  if (c == 0xC2 && (byte(1) == 0x85 || byte(1) == 0xA0)) return 2;  // U+0085, U+00A0
  if (c == 0xE1 && byte(1) == 0x9A && byte(2) == 0x80) return 3;    // U+1680
  if (c == 0xE2 && byte(1) == 0x80) {
    const unsigned third = byte(2);
    // U+2000..U+200A, U+2028, U+2029, U+202F
    if ((third >= 0x80 && third <= 0x8A) || third == 0xA8 || third == 0xA9 || third == 0xAF) {
      return 3;
    }
  }
  if (c == 0xE2 && byte(1) == 0x81 && byte(2) == 0x9F) return 3;  // U+205F
  if (c == 0xE3 && byte(1) == 0x80 && byte(2) == 0x80) return 3;  // U+3000
  return 0;
}

// 1-based character column of byte offset `at` in a (valid up to `at`) UTF-8 line.
std::uint32_t column_of(std::string_view line, std::size_t at) noexcept {
  std::uint32_t column = 1;
  for (std::size_t i = 0; i < at && i < line.size(); ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xC0) != 0x80) ++column;
  }
  return column;
}

struct Field {
  std::string_view text;
  std::size_t offset = 0;  // byte offset in the line
};

// Up to `max_fields` whitespace-separated fields; returns how many were found.
std::size_t split_fields(std::string_view line, Field* fields, std::size_t max_fields) noexcept {
  std::size_t found = 0;
  std::size_t i = 0;
  while (i < line.size() && found < max_fields) {
    while (i < line.size()) {
      const std::size_t ws = whitespace_length(line, i);
      if (ws == 0) break;
      i += ws;
    }
    if (i >= line.size()) break;
    const std::size_t start = i;
    while (i < line.size() && whitespace_length(line, i) == 0) ++i;
    fields[found++] = {line.substr(start, i - start), start};
  }
  return found;
}

std::string errno_text(int error) { return std::strerror(error); }

constexpr std::string_view byte_order_mark = "\xEF\xBB\xBF";

// Reads a file line by line through a fixed buffer, so memory stays bounded
// whatever the file holds. Lines longer than max_line_length are reported as
// such and skipped.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd), buffer_(new char[buffer_size]) {}

  struct Line {
    std::string_view text;  // without the '\n'
    bool too_long = false;
  };

  // nullopt at the end of the file or on a read error (see error()).
  std::optional<Line> next() {
    bool skipping = false;
    while (true) {
      const char* begin = buffer_.get() + start_;
      const std::size_t available = filled_ - start_;
      const void* newline = std::memchr(begin, '\n', available);
      if (newline != nullptr) {
        const std::size_t length = static_cast<const char*>(newline) - begin;
        start_ += length + 1;
        if (skipping || length > max_line_length) return Line{{}, true};
        return Line{std::string_view(begin, length), false};
      }
      if (eof_) {
        if (available == 0 && !skipping) return std::nullopt;
        start_ = filled_;
        if (skipping || available > max_line_length) return Line{{}, true};
        return Line{std::string_view(begin, available), false};
      }
      if (available > max_line_length) {
        // Drop what we have of the over-long line and keep reading to its end.
        skipping = true;
        start_ = filled_ = 0;
      } else if (start_ > 0) {
        std::memmove(buffer_.get(), begin, available);
        start_ = 0;
        filled_ = available;
      }
      const ssize_t n = ::read(fd_, buffer_.get() + filled_, buffer_size - filled_);
      if (n < 0) {
        if (errno == EINTR) continue;
        error_ = errno;
        return std::nullopt;
      }
      if (n == 0) eof_ = true;
      filled_ += static_cast<std::size_t>(n);
    }
  }

  int error() const noexcept { return error_; }

 private:
  static constexpr std::size_t buffer_size = 1 << 20;
  static_assert(buffer_size > max_line_length + 1);

  int fd_;
  std::unique_ptr<char[]> buffer_;
  std::size_t start_ = 0;
  std::size_t filled_ = 0;
  bool eof_ = false;
  int error_ = 0;
};

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }
  // Closes now, so the caller sees the error of the final flush.
  int close() noexcept {
    const int result = ::close(fd_);
    fd_ = -1;
    return result;
  }

 private:
  int fd_;
};

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

std::size_t Table::lower_bound(std::string_view key, std::size_t from) const noexcept {
  const char* keys = keys_.data();
  auto it = std::lower_bound(entries_.begin() + static_cast<std::ptrdiff_t>(from), entries_.end(),
                             key, [keys](const Entry& e, std::string_view k) {
                               return std::string_view(keys + e.offset, e.length) < k;
                             });
  return static_cast<std::size_t>(it - entries_.begin());
}

std::optional<std::string_view> Table::find(std::string_view key) const noexcept {
  const std::size_t index = lower_bound(key, 0);
  if (index == entries_.size() || this->key(index) != key) return std::nullopt;
  return destination(index);
}

std::size_t Table::memory_bytes() const noexcept {
  // The arena's size, not its capacity: the reservation made from the file
  // size is larger, but its untouched tail is never paged in.
  std::size_t bytes = keys_.size() + entries_.capacity() * sizeof(Entry);
  for (const std::string& d : destinations_) bytes += sizeof(std::string) + d.capacity();
  return bytes;
}

TableBuilder::TableBuilder(std::size_t expected_key_bytes) : table_(std::make_unique<Table>()) {
  // Capped: past 1 GiB the arena grows by doubling like any string.
  table_->keys_.reserve(std::min<std::size_t>(expected_key_bytes, std::size_t{1} << 30));
}

std::uint32_t TableBuilder::intern(std::string_view destination) {
  // Consecutive lines often share a destination.
  if (last_destination_ != UINT32_MAX && table_->destinations_[last_destination_] == destination) {
    return last_destination_;
  }
  auto it = destination_index_.find(destination);
  if (it == destination_index_.end()) {
    const auto index = static_cast<std::uint32_t>(table_->destinations_.size());
    table_->destinations_.emplace_back(destination);
    it = destination_index_.emplace(std::string(destination), index).first;
  }
  last_destination_ = it->second;
  return it->second;
}

bool TableBuilder::add(std::string_view key, std::string_view destination) {
  std::string& keys = table_->keys_;
  constexpr std::size_t limit = std::numeric_limits<std::uint32_t>::max();
  if (key.size() > limit - keys.size() || table_->entries_.size() >= limit) return false;
  const auto offset = static_cast<std::uint32_t>(keys.size());
  keys.append(key);
  table_->entries_.push_back(
      {offset, static_cast<std::uint32_t>(key.size()), intern(destination)});
  return true;
}

std::shared_ptr<const Table> TableBuilder::finish(bool already_sorted_unique) {
  auto& entries = table_->entries_;
  if (!already_sorted_unique) {
    const std::string_view keys(table_->keys_);
    auto key_of = [keys](const Table::Entry& e) { return keys.substr(e.offset, e.length); };
    // Keys were appended in file order, so among equal keys the larger offset
    // is the later line: sorting by (key, offset) and keeping the last of
    // each run implements "last wins".
    std::sort(entries.begin(), entries.end(),
              [&key_of](const Table::Entry& a, const Table::Entry& b) {
                const int order = key_of(a).compare(key_of(b));
                return order != 0 ? order < 0 : a.offset < b.offset;
              });
    std::size_t kept = 0;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (i + 1 < entries.size() && key_of(entries[i]) == key_of(entries[i + 1])) continue;
      entries[kept++] = entries[i];
    }
    entries.resize(kept);
  }
  entries.shrink_to_fit();
  destination_index_.clear();
  last_destination_ = UINT32_MAX;
  std::shared_ptr<const Table> result = std::move(table_);
  table_ = std::make_unique<Table>();
  return result;
}

void merge_entries(const Table& table, const Overlay& overlay, const Change* change,
                   const std::function<void(std::string_view, std::string_view)>& emit) {
  std::size_t base = 0;
  auto over = overlay.begin();
  bool change_pending = change != nullptr;
  while (true) {
    // The next key that overlay or change has something to say about; the
    // table rows before it are copied without comparing each one.
    std::optional<std::string_view> key;
    if (over != overlay.end()) key = over->first;
    if (change_pending && (!key || change->key < *key)) key = change->key;
    const std::size_t stop = key ? table.lower_bound(*key, base) : table.size();
    for (; base < stop; ++base) emit(table.key(base), table.destination(base));
    if (!key) return;

    // On equal keys the change beats the overlay, which beats the table.
    std::optional<std::string_view> value;
    if (base < table.size() && table.key(base) == *key) value = table.destination(base++);
    if (over != overlay.end() && over->first == *key) {
      value = over->second ? std::optional<std::string_view>(*over->second) : std::nullopt;
      ++over;
    }
    if (change_pending && change->key == *key) {
      value = change->destination;
      change_pending = false;
    }
    if (value) emit(*key, *value);
  }
}

LoadOutcome load_table(const std::string& path, const sdk::MappingContext& context) {
  LoadOutcome outcome;
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    outcome.failure = "cannot open mapping file " + path + ": " + errno_text(errno);
    return outcome;
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode)) {
    outcome.failure = "mapping file " + path + " is not a regular file";
    return outcome;
  }

  auto report = [&outcome](std::uint32_t line, std::uint32_t column, std::string message) {
    if (outcome.issues.size() < max_reported_issues) {
      outcome.issues.push_back({line, column, std::move(message)});
    }
    ++outcome.issue_count;
  };

  // Each distinct destination is checked once; the answer is reported on
  // every line that names it.
  std::map<std::string, std::optional<std::string>, std::less<>> destination_problems;
  TableBuilder builder(static_cast<std::size_t>(info.st_size));
  LineReader reader(fd.get());
  std::uint32_t line_number = 0;
  bool table_full = false;
  while (auto line = reader.next()) {
    ++line_number;
    if (line->too_long) {
      report(line_number, 1,
             "line is longer than " + std::to_string(max_line_length) + " bytes");
      continue;
    }
    std::string_view text = line->text;
    if (line_number == 1 && text.substr(0, 3) == byte_order_mark) text.remove_prefix(3);
    if (const std::size_t bad = sdk::invalid_utf8_offset(text); bad != std::string_view::npos) {
      report(line_number, column_of(text, bad), "line is not valid UTF-8");
      continue;
    }
    Field fields[2];
    const std::size_t count = split_fields(text, fields, 2);
    if (count == 0 || fields[0].text.front() == '#') continue;
    if (count < 2) {
      report(line_number, column_of(text, fields[0].offset),
             "expected '<identifier> <destination>', found only '" + std::string(fields[0].text) +
                 "'");
      continue;
    }
    const Field& destination = fields[1];
    auto checked = destination_problems.find(destination.text);
    if (checked == destination_problems.end()) {
      checked = destination_problems
                    .emplace(std::string(destination.text),
                             context.check_destination(destination.text))
                    .first;
    }
    if (checked->second) {
      report(line_number, column_of(text, destination.offset), *checked->second);
      continue;
    }
    // Only the file's first bytes may be a byte-order mark; one at the start
    // of another line would be stripped if the rewrite sorted it first.
    if (fields[0].text.substr(0, 3) == byte_order_mark) {
      report(line_number, column_of(text, fields[0].offset),
             "identifier starts with a byte-order mark (U+FEFF)");
      continue;
    }
    const std::string key = context.normalize(fields[0].text);
    if (key.empty()) {
      report(line_number, column_of(text, fields[0].offset),
             "identifier is empty after normalization");
      continue;
    }
    // Once the file is known to be invalid the table is not needed any more;
    // the scan goes on only to find the remaining problems.
    if (outcome.issue_count == 0 && !table_full && !builder.add(key, destination.text)) {
      table_full = true;
      report(line_number, 1, "mapping file is too large (keys exceed 4 GiB)");
    }
  }
  if (reader.error() != 0) {
    outcome.failure = "cannot read mapping file " + path + ": " + errno_text(reader.error());
    return outcome;
  }
  if (outcome.issue_count == 0) outcome.table = builder.finish(false);
  return outcome;
}

std::optional<std::string> write_table_file(const std::string& path, const Table& table,
                                            const Overlay& overlay, const Change* change) {
  const std::string temporary = path + ".tmp";
  // Keep the permissions of the file being replaced (it may be 0640 or so).
  mode_t mode = 0644;
  if (struct stat info {}; ::stat(path.c_str(), &info) == 0) mode = info.st_mode & 07777;

  FileDescriptor fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (fd.get() < 0) return "cannot create " + temporary + ": " + errno_text(errno);
  auto fail = [&temporary](std::string what) {
    const int error = errno;
    ::unlink(temporary.c_str());
    return what + " " + temporary + ": " + errno_text(error);
  };
  if (::fchmod(fd.get(), mode) != 0) return fail("cannot set the permissions of");

  // A plain buffer rather than std::string appends: this loop runs once per
  // mapping on every write, so it is the CPU cost of an upsert.
  constexpr std::size_t flush_at = 1 << 20;
  const std::size_t capacity = flush_at + 2 * max_line_length + 2;
  const std::unique_ptr<char[]> buffer(new char[capacity]);
  std::size_t used = 0;
  bool ok = true;
  merge_entries(table, overlay, change, [&](std::string_view key, std::string_view destination) {
    if (!ok) return;
    char* out = buffer.get() + used;
    std::memcpy(out, key.data(), key.size());
    out += key.size();
    *out++ = '\t';
    std::memcpy(out, destination.data(), destination.size());
    out += destination.size();
    *out++ = '\n';
    used = static_cast<std::size_t>(out - buffer.get());
    if (used >= flush_at) {
      ok = write_all(fd.get(), std::string_view(buffer.get(), used));
      used = 0;
    }
  });
  if (!ok || !write_all(fd.get(), std::string_view(buffer.get(), used))) {
    return fail("cannot write");
  }
  // The data must be on disk before the rename makes it the mapping file,
  // or a crash could leave an empty file under the real name.
  if (::fsync(fd.get()) != 0) return fail("cannot flush");
  if (fd.close() != 0) return fail("cannot close");
  if (::rename(temporary.c_str(), path.c_str()) != 0) return fail("cannot rename");

  // Make the rename itself durable.
  const std::filesystem::path directory = std::filesystem::path(path).parent_path();
  FileDescriptor dir(::open(directory.empty() ? "." : directory.c_str(),
                            O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) ::fsync(dir.get());
  return std::nullopt;
}

std::optional<std::string> check_field_format(std::string_view what, std::string_view value) {
  const std::string name(what);
  if (value.empty()) return name + " is empty";
  if (value.size() > max_line_length / 2) return name + " is too long";
  if (sdk::invalid_utf8_offset(value) != std::string_view::npos) return name + " is not valid UTF-8";
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (whitespace_length(value, i) != 0) return name + " must not contain whitespace";
  }
  // A line starting with '#' is a comment: such a key would vanish on reload.
  if (value.front() == '#') return name + " must not start with '#'";
  if (value.substr(0, 3) == byte_order_mark) return name + " must not start with U+FEFF";
  return std::nullopt;
}

}  // namespace postern::mapping_file
