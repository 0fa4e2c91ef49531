// The JSON line postern-loadgen prints for a run.
#pragma once

#include <string>

#include "options.hpp"
#include "runner.hpp"

namespace postern::bench {

// One line of JSON (no newline) with the figures of a finished run; fields
// that do not apply to the workload are null.
std::string render(const Options& options, const RunResult& result);

}  // namespace postern::bench
