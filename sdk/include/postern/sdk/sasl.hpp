// SASL helpers shared by the mail protocol plugins: lenient base64, the four
// mechanisms Postern accepts (PLAIN, LOGIN, OAUTHBEARER, XOAUTH2), and the
// routing identifier carried by a credential. Pure functions, no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::sdk::sasl {

enum class Mechanism { plain, login, oauthbearer, xoauth2 };

// Case-insensitive; nullopt for every other mechanism.
std::optional<Mechanism> parse_mechanism(std::string_view name) noexcept;
// Upper-case wire name: "PLAIN", "LOGIN", "OAUTHBEARER", "XOAUTH2".
std::string_view mechanism_name(Mechanism mechanism) noexcept;
// PLAIN and LOGIN send a password in the clear (RFC 4616 section 4).
bool is_cleartext(Mechanism mechanism) noexcept;
// The default advertised list: PLAIN, LOGIN, OAUTHBEARER, XOAUTH2.
std::vector<Mechanism> default_mechanisms();

// Standard base64 (RFC 4648 section 4) with padding.
std::string encode_base64(std::string_view bytes);
// Lenient decoding of a client's SASL response: standard alphabet only;
// spaces, tabs, CR and LF are skipped; '=' ends a group early; a trailing
// incomplete group is dropped; any other byte makes the input invalid
// (nullopt). Empty input decodes to empty.
std::optional<std::string> decode_base64_lenient(std::string_view text);
// Unpadded URL-safe base64 (RFC 4648 section 5), as used in JWT segments.
std::optional<std::string> decode_base64url(std::string_view text);

// A captured credential, ready to be replayed to a backend.
struct Credentials {
  Mechanism mechanism = Mechanism::plain;  // LOGIN is captured as PLAIN
  std::string response;    // the decoded initial response to replay (secret)
  std::string identifier;  // routing identifier; empty when none could be derived
  std::string username;    // PLAIN/LOGIN authcid (for LOGIN-command replay)
  std::string password;    // PLAIN/LOGIN password (secret)

  Credentials() = default;
  Credentials(const Credentials&) = default;
  Credentials(Credentials&&) noexcept = default;
  Credentials& operator=(const Credentials&) = default;
  Credentials& operator=(Credentials&&) noexcept = default;
  ~Credentials();  // wipes the secrets
};

// RFC 4616: [authzid] NUL authcid NUL passwd. Valid when authcid and password
// are non-empty UTF-8; the identifier is the authcid.
std::optional<Credentials> parse_plain(std::string_view decoded);
// Builds the PLAIN response for a username/password pair (IMAP LOGIN, POP3
// USER/PASS, the SASL LOGIN exchange).
std::optional<Credentials> from_login(std::string_view username, std::string_view password);
// RFC 7628 OAUTHBEARER and Google's XOAUTH2: the bearer token is taken from
// the "auth=Bearer " field. The identifier comes from OAUTHBEARER's a= (when it
// contains '@'), XOAUTH2's user= field, or else the token itself
// (identifier_from_token). nullopt when there is no bearer token.
std::optional<Credentials> parse_oauth(Mechanism mechanism, std::string_view decoded,
                                       std::string_view jwt_username_claim);

// The account a bearer token names: "sw1." Stalwart tokens carry it in their
// second part; otherwise the token is read as a JWT (signature not verified:
// the backend verifies) and the claims jwt_username_claim, email,
// preferred_username, upn, unique_name, sub are tried in order for a string
// containing '@'. nullopt for opaque tokens.
std::optional<std::string> identifier_from_token(std::string_view token,
                                                 std::string_view jwt_username_claim);

// A routing identifier must not carry control bytes, DEL, space or '"'
// (it ends up in forwarded metadata and log fields).
bool identifier_is_valid(std::string_view identifier) noexcept;

// Overwrites a secret before its memory is released.
void wipe(std::string& secret) noexcept;

}  // namespace postern::sdk::sasl
