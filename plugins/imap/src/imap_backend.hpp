// The backend side of an IMAP session before the bridge: the handshake the
// kernel runs inside the establishment budget (greeting, capabilities,
// STARTTLS) and the replay of the client's credentials.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <postern/sdk/forwarding.hpp>
#include <postern/sdk/io.hpp>
#include <postern/sdk/log.hpp>
#include <postern/sdk/protocol.hpp>
#include <postern/sdk/sasl.hpp>

namespace postern::imap {

// One object per backend connection attempt; it keeps what the backend said
// (capabilities, bytes read past the last line) between the handshake and
// the replay.
class BackendLogin {
 public:
  static constexpr std::size_t max_line = 64 * 1024;  // per backend line
  static constexpr unsigned max_lines = 64;           // per exchange
  static constexpr unsigned max_id_lines = 16;        // to the ID command's tagged reply

  // `forward` is what an xclient destination is told about the client.
  BackendLogin(sdk::Logger& log, sdk::ForwardInfo forward)
      : log_(log), forward_(std::move(forward)) {}

  // The sdk::BackendHandshake: reads the greeting, learns the capabilities,
  // on a STARTTLS endpoint upgrades the leg and learns them again, and on a
  // destination with Forwarding::xclient sends the client's identity with
  // IMAP ID when the backend advertises it.
  sdk::Task<sdk::Outcome> handshake(sdk::Backend& backend);

  struct Result {
    enum class Status {
      accepted,  // tagged OK: `reply` goes to the client, then the bridge
      refused,   // tagged NO/BAD: `reply` goes to the client
      failed     // I/O or protocol failure: `outcome` says why
    };
    Status status = Status::failed;
    std::string reply;  // untagged lines relayed, then the tagged result
    sdk::Outcome outcome;
  };
  // Replays `credentials` with the client's own `tag` and relays the result.
  sdk::Task<Result> replay(sdk::Backend& backend, std::string_view tag,
                           const sdk::sasl::Credentials& credentials);

  bool has_capability(std::string_view name) const noexcept;
  // Bytes the backend sent after the tagged result (for the bridge).
  std::string take_residual() { return in_.take_residual(); }

 private:
  sdk::Task<std::optional<std::string>> read_line(sdk::Backend& backend, sdk::Failure failure,
                                                  sdk::Outcome& outcome);
  // Sends "P<n> <verb>" and reads to its tagged reply, learning capabilities
  // from untagged CAPABILITY data; fails unless the reply is OK.
  sdk::Task<sdk::Outcome> command(sdk::Backend& backend, std::string_view verb);
  void learn_capabilities(std::string_view list);
  // Sends "F1 ID (...)" and reads to its tagged reply, whatever its status.
  sdk::Task<sdk::Outcome> forward_identity(sdk::Backend& backend);

  sdk::Logger& log_;
  sdk::ForwardInfo forward_;
  sdk::InputBuffer in_{max_line};
  std::vector<std::string> capabilities_;  // upper-case tokens
  unsigned next_tag_ = 1;
};

}  // namespace postern::imap
