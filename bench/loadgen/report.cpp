#include "report.hpp"

#include <cstdio>
#include <string_view>

namespace postern::bench {
namespace {

class JsonLine {
 public:
  void text(std::string_view key, std::string_view value) {
    start(key);
    out_.push_back('"');
    for (const char c : value) {
      if (c == '"' || c == '\\') {
        out_.push_back('\\');
        out_.push_back(c);
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char escape[8];
        std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(c));
        out_ += escape;
      } else {
        out_.push_back(c);
      }
    }
    out_.push_back('"');
  }
  void number(std::string_view key, std::optional<double> value, int decimals) {
    start(key);
    if (!value) {
      out_ += "null";
      return;
    }
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, *value);
    out_ += buffer;
  }
  void integer(std::string_view key, std::optional<std::uint64_t> value) {
    start(key);
    out_ += value ? std::to_string(*value) : "null";
  }
  void raw(std::string_view key, std::string_view json) {
    start(key);
    out_ += json;
  }
  std::string finish() { return out_ + "}"; }

 private:
  void start(std::string_view key) {
    if (!first_) out_.push_back(',');
    first_ = false;
    out_.push_back('"');
    out_.append(key);
    out_ += "\":";
  }
  std::string out_ = "{";
  bool first_ = true;
};

struct ProcessReport {
  std::optional<double> cpu_ms;
  std::optional<double> cpu_ms_per_op;
  std::optional<double> pss_kib;
  std::optional<double> pss_kib_per_session;
  std::optional<std::uint64_t> processes;
};

ProcessReport report_process(const ProcessFigures& figures, const RunResult& result, bool idle) {
  ProcessReport report;
  if (figures.before && figures.after) {
    report.cpu_ms = figures.after->cpu_ms - figures.before->cpu_ms;
    if (result.ops > 0) report.cpu_ms_per_op = *report.cpu_ms / static_cast<double>(result.ops);
  }
  const auto& last = idle ? figures.holding : figures.after;
  if (last) {
    report.processes = last->processes;
    if (last->pss_kib) report.pss_kib = static_cast<double>(*last->pss_kib);
  }
  if (idle && last && last->pss_kib && figures.before && figures.before->pss_kib && result.held && *result.held > 0) {
    report.pss_kib_per_session = (static_cast<double>(*last->pss_kib) - static_cast<double>(*figures.before->pss_kib)) /
                                 static_cast<double>(*result.held);
  }
  return report;
}

}  // namespace

std::string render(const Options& options, const RunResult& result) {
  const bool idle = options.workload == Workload::imap_idle;
  std::vector<ProcessReport> processes;
  for (const auto& figures : result.processes) processes.push_back(report_process(figures, result, idle));
  const ProcessReport first = processes.empty() ? ProcessReport{} : processes.front();
  const auto per_second = [&](double amount) -> std::optional<double> {
    if (result.elapsed_s <= 0) return std::nullopt;
    return amount / result.elapsed_s;
  };

  JsonLine line;
  line.text("workload", to_string(options.workload));
  line.text("label", options.label);
  line.text("tls", to_string(options.tls));
  line.integer("concurrency", options.concurrency);
  line.number("duration_s", idle ? result.held_for_s : result.elapsed_s, 3);
  line.integer("ops", result.ops);
  line.integer("errors", result.errors);
  line.number("ops_per_s", per_second(static_cast<double>(result.ops)), 2);
  line.number("p50_ms", result.latency.quantile_ms(0.50), 3);
  line.number("p99_ms", result.latency.quantile_ms(0.99), 3);
  std::optional<double> mb_per_s;
  if (options.workload == Workload::imap_bulk) mb_per_s = per_second(static_cast<double>(result.payload_bytes) / 1e6);
  line.number("mb_per_s", mb_per_s, 2);
  line.number("cpu_ms_per_op", first.cpu_ms_per_op, 4);
  line.number("pss_kib", first.pss_kib, 0);
  line.number("pss_kib_per_session", first.pss_kib_per_session, 2);
  line.integer("held", result.held);
  line.integer("dropped", result.dropped);
  std::optional<double> loadgen_per_op;
  if (result.ops > 0) loadgen_per_op = result.loadgen_cpu_ms / static_cast<double>(result.ops);
  line.number("loadgen_cpu_ms_per_op", loadgen_per_op, 4);
  std::string list = "[";
  for (std::size_t i = 0; i < processes.size(); ++i) {
    JsonLine entry;
    entry.integer("pid", static_cast<std::uint64_t>(result.processes[i].pid));
    entry.integer("processes", processes[i].processes);
    entry.number("cpu_ms", processes[i].cpu_ms, 1);
    entry.number("cpu_ms_per_op", processes[i].cpu_ms_per_op, 4);
    entry.number("pss_kib", processes[i].pss_kib, 0);
    entry.number("pss_kib_per_session", processes[i].pss_kib_per_session, 2);
    if (i > 0) list += ",";
    list += entry.finish();
  }
  list += "]";
  line.raw("sampled", list);
  return line.finish();
}

}  // namespace postern::bench
