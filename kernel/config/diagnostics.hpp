// Configuration diagnostics, printed like a compiler's so editors and CI can
// jump to them: FILE:LINE:COL: error: dotted.key: message [plugin NAME VERSION]
#pragma once

#include <string>
#include <vector>

#include <postern/sdk/config.hpp>

namespace postern::kernel {

enum class Severity { error, warning };

struct Diagnostic {
  sdk::SourcePosition where;
  Severity severity = Severity::error;
  std::string key;         // dotted path; may be empty for file-level errors
  std::string message;
  std::string plugin_tag;  // "imap 0.1.0" when a plugin produced the message

  std::string format() const;
};

class Diagnostics {
 public:
  void add(Diagnostic d) { items_.push_back(std::move(d)); }
  bool has_errors() const;
  // Sorted by file, line, column; stable for equal positions.
  std::vector<Diagnostic> sorted() const;
  const std::vector<Diagnostic>& items() const { return items_; }

 private:
  std::vector<Diagnostic> items_;
};

}  // namespace postern::kernel
