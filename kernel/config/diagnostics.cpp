#include "config/diagnostics.hpp"

#include <algorithm>
#include <tuple>

#include <fmt/format.h>

namespace postern::kernel {

std::string Diagnostic::format() const {
  std::string out = where.file;
  if (where.line != 0) {
    out += fmt::format(":{}:{}", where.line, where.column);
  }
  out += severity == Severity::error ? ": error: " : ": warning: ";
  if (!key.empty()) {
    out += key;
    out += ": ";
  }
  out += message;
  if (!plugin_tag.empty()) {
    out += " [plugin ";
    out += plugin_tag;
    out += ']';
  }
  return out;
}

bool Diagnostics::has_errors() const {
  return std::ranges::any_of(items_, [](const Diagnostic& d) { return d.severity == Severity::error; });
}

std::vector<Diagnostic> Diagnostics::sorted() const {
  std::vector<Diagnostic> out = items_;
  std::ranges::stable_sort(out, [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.where.file, a.where.line, a.where.column) <
           std::tie(b.where.file, b.where.line, b.where.column);
  });
  return out;
}

}  // namespace postern::kernel
