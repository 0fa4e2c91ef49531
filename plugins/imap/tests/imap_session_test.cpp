#include "imap_session.hpp"

#include <algorithm>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include <postern/sdk/sasl.hpp>

#include "fake_session.hpp"

namespace postern::imap {
namespace {

using namespace std::string_literals;
using testing::BackendScript;
using testing::FakeSession;

const std::string advertised =
    "IMAP4rev2 IMAP4rev1 ENABLE SASL-IR LITERAL+ ID UTF8=ACCEPT JMAPACCESS";
const std::string banner = "Postern IMAP4rev2 at your service.";
const std::string caps_tls = advertised + " AUTH=PLAIN AUTH=LOGIN AUTH=OAUTHBEARER AUTH=XOAUTH2";
const std::string caps_starttls =
    advertised + " AUTH=OAUTHBEARER AUTH=XOAUTH2 LOGINDISABLED STARTTLS";
const std::string caps_plain = advertised + " AUTH=OAUTHBEARER AUTH=XOAUTH2 LOGINDISABLED";

std::string greeting(const std::string& caps) {
  return "* OK [CAPABILITY " + caps + "] " + banner + "\r\n";
}

std::string b64(std::string_view bytes) { return sdk::sasl::encode_base64(bytes); }

// A PLAIN response (RFC 4616) without authorization identity.
std::string plain(std::string_view user, std::string_view password) {
  return "\0"s + std::string(user) + "\0"s + std::string(password);
}

// An unsigned JWT whose payload is {"email":"<email>"}.
std::string jwt_for(std::string_view email) {
  std::string payload = b64("{\"email\":\"" + std::string(email) + "\"}");
  while (!payload.empty() && payload.back() == '=') payload.pop_back();
  for (char& c : payload) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return "eyJhbGciOiJub25lIn0." + payload + ".sig";
}

BackendScript backend(std::deque<std::string> replies) {
  BackendScript script;
  script.replies = std::move(replies);
  return script;
}

const std::string backend_greeting =
    "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=OAUTHBEARER AUTH=XOAUTH2 ID] ready\r\n";

struct Scenario {
  ImapSettings settings;
  sdk::TlsMode listener = sdk::TlsMode::implicit;
  unsigned max_auth_attempts = 3;
  bool trusted_peer = false;
  std::deque<std::string> client;
  std::deque<BackendScript> backends;
  sdk::Outcome route_outcome;

  std::unique_ptr<FakeSession> run(unsigned fail_at = 0, bool* completed = nullptr) const {
    sdk::SessionInfo info;
    info.id = 7;
    info.listener = "imap";
    info.protocol = "imap";
    info.listener_tls = listener;
    info.max_auth_attempts = max_auth_attempts;
    info.jwt_username_claim = "email";
    info.trusted_peer = trusted_peer;
    auto session =
        std::make_unique<FakeSession>(info, client, listener == sdk::TlsMode::implicit, backends);
    session->faults.fail_at = fail_at;
    session->route_outcome = route_outcome;
    ImapHandler handler(std::make_shared<const ImapConfig>(settings));
    const bool done = testing::run_to_completion(handler, *session);
    if (completed != nullptr) {
      *completed = done;
    } else {
      EXPECT_TRUE(done) << "serve() did not complete";
    }
    return session;
  }
};

std::size_t warnings(const FakeSession& session) {
  return static_cast<std::size_t>(std::count_if(
      session.logger.lines.begin(), session.logger.lines.end(),
      [](const testing::LogLine& line) { return line.level == sdk::LogLevel::warn; }));
}

// --- greeting and pre-authentication commands ---

TEST(ImapSession, GreetingOnImplicitTlsOffersEveryMechanism) {
  Scenario s;
  s.client = {"a LOGOUT\r\n"};
  const auto session = s.run();
  EXPECT_EQ(session->client_written,
            greeting(caps_tls) + "* BYE Logging out\r\na OK LOGOUT completed.\r\n");
  EXPECT_EQ(session->routed.size(), 0u);
}

TEST(ImapSession, GreetingOnPlaintextStarttlsListener) {
  Scenario s;
  s.listener = sdk::TlsMode::starttls;
  const auto session = s.run();
  EXPECT_EQ(session->client_written, greeting(caps_starttls));
}

TEST(ImapSession, GreetingOnPlainListener) {
  Scenario s;
  s.listener = sdk::TlsMode::plain;
  const auto session = s.run();
  EXPECT_EQ(session->client_written, greeting(caps_plain));
}

TEST(ImapSession, GreetingWhenCleartextIsAllowedWithoutTls) {
  Scenario s;
  s.listener = sdk::TlsMode::plain;
  s.settings.allow_plain_auth_without_tls = true;
  const auto session = s.run();
  EXPECT_EQ(session->client_written, greeting(caps_tls));
}

TEST(ImapSession, GreetingFollowsConfiguredListsAndBanner) {
  Scenario s;
  s.listener = sdk::TlsMode::starttls;
  s.settings.advertise = {"IMAP4rev1", "SASL-IR"};
  s.settings.sasl = {sdk::sasl::Mechanism::xoauth2, sdk::sasl::Mechanism::login,
                     sdk::sasl::Mechanism::plain};
  s.settings.allow_plain_auth_without_tls = true;
  s.settings.banner = "Hello.";
  const auto session = s.run();
  EXPECT_EQ(session->client_written,
            "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=LOGIN AUTH=PLAIN STARTTLS] "
            "Hello.\r\n");
}

TEST(ImapSession, AnswersPreAuthCommands) {
  Scenario s;
  s.client = {"a CAPABILITY\r\nb noop\r\n", "c ID (\"name\" \"client\")\r\n",
              "d SELECT INBOX\r\ne ENABLE UTF8=ACCEPT\r\nf STARTTLS\r\ng LOGOUT\r\nh NOOP\r\n"};
  const auto session = s.run();
  EXPECT_EQ(session->client_written, greeting(caps_tls) + "* CAPABILITY " + caps_tls +
                                         "\r\na OK CAPABILITY completed.\r\n"
                                         "b OK NOOP completed.\r\n"
                                         "* ID NIL\r\nc OK ID completed.\r\n"
                                         "d BAD Command not allowed in this state.\r\n"
                                         "e BAD Command not allowed in this state.\r\n"
                                         "f BAD STARTTLS not available.\r\n"
                                         "* BYE Logging out\r\ng OK LOGOUT completed.\r\n");
}

TEST(ImapSession, DisallowedCommandsAreNotCountedAsFailures) {
  Scenario s;
  s.max_auth_attempts = 1;
  s.client = {"a FETCH 1 FLAGS\r\nb SELECT INBOX\r\nc NOOP\r\n"};
  const auto session = s.run();
  EXPECT_EQ(session->client_written, greeting(caps_tls) +
                                         "a BAD Command not allowed in this state.\r\n"
                                         "b BAD Command not allowed in this state.\r\n"
                                         "c OK NOOP completed.\r\n");
}

TEST(ImapSession, ParseErrorsAreUntaggedBadAndCounted) {
  Scenario s;
  s.max_auth_attempts = 2;
  s.client = {"a NO-OP\r\n", "b NOOP\r\n", "+x\r\n", "c NOOP\r\n"};
  const auto session = s.run();
  EXPECT_EQ(session->client_written, greeting(caps_tls) +
                                         "* BAD Invalid character in command name.\r\n"
                                         "b OK NOOP completed.\r\n"
                                         "* BAD Invalid character in tag.\r\n"
                                         "* BYE Too many authentication failures.\r\n");
}

TEST(ImapSession, SynchronizingLiteralGetsContinuation) {
  Scenario s;
  s.client = {"a1 LOGIN {4}\r\n", "user {6}\r\n", "secret\r\n"};
  s.backends = {backend({backend_greeting, "a1 OK done\r\n"})};
  const auto session = s.run();
  EXPECT_EQ(session->client_written, greeting(caps_tls) +
                                         "+ Ready for 4 bytes.\r\n"
                                         "+ Ready for 6 bytes.\r\n"
                                         "a1 OK done\r\n");
  EXPECT_EQ(session->backend(0).written,
            "a1 AUTHENTICATE PLAIN " + b64(plain("user", "secret")) + "\r\n");
}

TEST(ImapSession, OversizedLiteralIsRefusedAndCloses) {
  Scenario s;
  s.client = {"a LOGIN {70000}\r\n", "b NOOP\r\n"};
  const auto session = s.run();
  EXPECT_EQ(session->client_written, greeting(caps_tls) + "* BAD Literal too long.\r\n");
}

TEST(ImapSession, OversizedCommandLineCloses) {
  Scenario s;
  s.client = {"a LOGIN " + std::string(70000, ' '), "b NOOP\r\n"};
  const auto session = s.run();
  EXPECT_EQ(session->client_written, greeting(caps_tls) + "* BAD Command too long.\r\n");
}

TEST(ImapSession, OversizedSaslResponseLineCloses) {
  Scenario s;
  s.client = {"a AUTHENTICATE PLAIN\r\n", std::string(70000, 'A'), "\r\nb NOOP\r\n"};
  const auto session = s.run();
  EXPECT_EQ(session->client_written, greeting(caps_tls) + "+ \r\n* BAD Line too long.\r\n");
}

// --- STARTTLS on the client leg ---

TEST(ImapSession, StarttlsDiscardsPipelinedPlaintextAndUpdatesCapabilities) {
  Scenario s;
  s.listener = sdk::TlsMode::starttls;
  // "b LOGIN ..." arrives in the same read as STARTTLS: it must not be run.
  s.client = {"a STARTTLS\r\nb LOGIN injected x\r\n", "c CAPABILITY\r\nd STARTTLS\r\n"};
  const auto session = s.run();
  EXPECT_EQ(session->client_tls_handshakes, 1u);
  EXPECT_EQ(session->client_written, greeting(caps_starttls) +
                                         "a OK Begin TLS negotiation now.\r\n"
                                         "* CAPABILITY " +
                                         caps_tls +
                                         "\r\nc OK CAPABILITY completed.\r\n"
                                         "d BAD STARTTLS not available.\r\n");
  EXPECT_TRUE(session->routed.empty());
}

TEST(ImapSession, ClientTlsFailureCloses) {
  Scenario s;
  s.listener = sdk::TlsMode::starttls;
  s.client = {"a STARTTLS\r\n", "b NOOP\r\n"};
  // Operations: read, greeting write... fail the handshake (4th operation:
  // write greeting, read, write OK, handshake).
  const auto session = s.run(4);
  EXPECT_EQ(session->client_written,
            greeting(caps_starttls) + "a OK Begin TLS negotiation now.\r\n");
  EXPECT_EQ(session->client_tls_handshakes, 0u);
}

// --- privacy rules and failure counting ---

TEST(ImapSession, CleartextRefusedWithoutTlsAndNotCounted) {
  Scenario s;
  s.listener = sdk::TlsMode::starttls;
  s.max_auth_attempts = 1;
  s.client = {"a LOGIN user secret\r\n", "b AUTHENTICATE PLAIN\r\n", "c authenticate login\r\n",
              "d NOOP\r\n"};
  const auto session = s.run();
  EXPECT_EQ(session->client_written,
            greeting(caps_starttls) +
                "a NO [PRIVACYREQUIRED] Cleartext login requires TLS.\r\n"
                "b NO [PRIVACYREQUIRED] Cleartext authentication requires TLS.\r\n"
                "c NO [PRIVACYREQUIRED] Cleartext authentication requires TLS.\r\n"
                "d OK NOOP completed.\r\n");
  EXPECT_TRUE(session->routed.empty());
}

TEST(ImapSession, OauthIsAcceptedWithoutTls) {
  Scenario s;
  s.listener = sdk::TlsMode::plain;
  const std::string token = jwt_for("alice@example.com");
  const std::string response =
      "n,a=alice@example.com,\x01"
      "auth=Bearer " +
      token + "\x01\x01";
  s.client = {"a1 AUTHENTICATE OAUTHBEARER " + b64(response) + "\r\n"};
  s.backends = {backend({backend_greeting, "a1 OK done\r\n"})};
  const auto session = s.run();
  ASSERT_EQ(session->routed.size(), 1u);
  EXPECT_EQ(session->routed[0], "alice@example.com");
  EXPECT_EQ(session->backend(0).written, "a1 AUTHENTICATE OAUTHBEARER " + b64(response) + "\r\n");
  EXPECT_TRUE(session->bridged);
}

TEST(ImapSession, XoauthIdentifierComesFromUserField) {
  Scenario s;
  const std::string response =
      "user=bob@example.com\x01"
      "auth=Bearer opaque-token\x01\x01";
  s.client = {"a1 AUTHENTICATE XOAUTH2 " + b64(response) + "\r\n"};
  s.backends = {backend({backend_greeting, "a1 OK done\r\n"})};
  const auto session = s.run();
  ASSERT_EQ(session->routed.size(), 1u);
  EXPECT_EQ(session->routed[0], "bob@example.com");
}

TEST(ImapSession, ClosesWhenFailuresReachTheLimit) {
  Scenario s;
  s.max_auth_attempts = 3;
  s.client = {"a AUTHENTICATE FOO\r\n", "b AUTHENTICATE\r\n", "c LOGIN onlyuser\r\n",
              "d LOGIN \"\" x\r\n", "e NOOP\r\n"};
  const auto session = s.run();
  EXPECT_EQ(session->client_written, greeting(caps_tls) +
                                         "a NO Unsupported authentication mechanism.\r\n"
                                         "b BAD Missing mechanism.\r\n"
                                         "c NO LOGIN requires a username and password.\r\n"
                                         "d NO Malformed credentials.\r\n"
                                         "* BYE Too many authentication failures.\r\n");
  EXPECT_TRUE(session->routed.empty());
}

TEST(ImapSession, BadBase64CancelAndMalformedResponses) {
  Scenario s;
  s.max_auth_attempts = 10;
  s.client = {"a AUTHENTICATE PLAIN\r\n",
              "@@@\r\n",  // not base64
              "b AUTHENTICATE PLAIN\r\n",
              "*\r\n",                       // cancelled
              "c AUTHENTICATE PLAIN =\r\n",  // empty: no credential
              "d AUTHENTICATE PLAIN " + b64("no-nul-here") + "\r\n",
              "e AUTHENTICATE OAUTHBEARER " +
                  b64("n,,\x01"
                      "auth=Basic x\x01\x01") +
                  "\r\n",
              "f AUTHENTICATE PLAIN A-B\r\n"};
  const auto session = s.run();
  EXPECT_EQ(session->client_written, greeting(caps_tls) +
                                         "+ \r\na NO Invalid base64 in SASL response.\r\n"
                                         "+ \r\nb BAD AUTHENTICATE cancelled.\r\n"
                                         "c NO Malformed credentials.\r\n"
                                         "d NO Malformed credentials.\r\n"
                                         "e NO Malformed credentials.\r\n"
                                         "f NO Invalid base64 in SASL response.\r\n");
}

TEST(ImapSession, CancelIsCounted) {
  Scenario s;
  s.max_auth_attempts = 1;
  s.client = {"a AUTHENTICATE LOGIN\r\n", "*\r\n", "b NOOP\r\n"};
  const auto session = s.run();
  EXPECT_EQ(session->client_written, greeting(caps_tls) +
                                         "+ VXNlcm5hbWU6\r\na BAD AUTHENTICATE cancelled.\r\n"
                                         "* BYE Too many authentication failures.\r\n");
}

// --- credential capture and replay ---

TEST(ImapSession, LoginReplayedWithSaslIrAndBridged) {
  Scenario s;
  s.client = {"a1 LOGIN user@example.com \"s3cr3t pass\"\r\na2 SELECT INBOX\r\n"};
  s.backends = {
      backend({backend_greeting, "a1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n* 1 EXISTS\r\n"})};
  const auto session = s.run();
  EXPECT_EQ(session->client_written,
            greeting(caps_tls) + "a1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n");
  EXPECT_EQ(session->backend(0).written,
            "a1 AUTHENTICATE PLAIN " + b64(plain("user@example.com", "s3cr3t pass")) + "\r\n");
  ASSERT_EQ(session->routed.size(), 1u);
  EXPECT_EQ(session->routed[0], "user@example.com");
  ASSERT_EQ(session->authenticated_as.size(), 1u);
  EXPECT_EQ(session->authenticated_as[0], "user@example.com");
  EXPECT_TRUE(session->bridged);
  EXPECT_EQ(session->bridge_client_residual, "a2 SELECT INBOX\r\n");
  EXPECT_EQ(session->bridge_backend_residual, "* 1 EXISTS\r\n");
  EXPECT_EQ(session->backend(0).deadline_restarts, 1u);
  ASSERT_FALSE(session->phases.empty());
  EXPECT_EQ(session->phases.back(), sdk::Phase::bridge);
}

TEST(ImapSession, ReplayUsesContinuationWithoutSaslIr) {
  Scenario s;
  s.client = {"a1 LOGIN user secret\r\n"};
  // No capabilities in the greeting: they are asked for.
  s.backends = {backend({"* OK ready\r\n", "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nP1 OK done\r\n",
                         "+ \r\n", "* CAPABILITY IMAP4rev1 IDLE\r\na1 OK welcome\r\n"})};
  const auto session = s.run();
  EXPECT_EQ(session->backend(0).written,
            "P1 CAPABILITY\r\na1 AUTHENTICATE PLAIN\r\n" + b64(plain("user", "secret")) + "\r\n");
  EXPECT_EQ(session->client_written,
            greeting(caps_tls) + "* CAPABILITY IMAP4rev1 IDLE\r\na1 OK welcome\r\n");
  EXPECT_TRUE(session->bridged);
}

TEST(ImapSession, AuthenticatePlainWithInitialResponse) {
  Scenario s;
  const std::string response = "admin\0user@example.com\0pw"s;
  s.client = {"t AUTHENTICATE PLAIN " + b64(response) + "\r\n"};
  s.backends = {backend({backend_greeting, "T OK done\r\n"})};
  const auto session = s.run();
  // The authorization identity is replayed verbatim; the tag's case does not
  // matter in the backend's reply.
  EXPECT_EQ(session->backend(0).written, "t AUTHENTICATE PLAIN " + b64(response) + "\r\n");
  EXPECT_EQ(session->client_written, greeting(caps_tls) + "T OK done\r\n");
  ASSERT_EQ(session->routed.size(), 1u);
  EXPECT_EQ(session->routed[0], "user@example.com");
  EXPECT_TRUE(session->bridged);
}

TEST(ImapSession, AuthenticatePlainWithContinuation) {
  Scenario s;
  s.client = {"t authenticate plain\r\n", b64(plain("user", "pw")) + "\r\n"};
  s.backends = {backend({backend_greeting, "t OK done\r\n"})};
  const auto session = s.run();
  EXPECT_EQ(session->client_written, greeting(caps_tls) + "+ \r\nt OK done\r\n");
  EXPECT_EQ(session->backend(0).written,
            "t AUTHENTICATE PLAIN " + b64(plain("user", "pw")) + "\r\n");
}

TEST(ImapSession, AuthenticateLoginTwoPrompts) {
  Scenario s;
  s.client = {"t AUTHENTICATE LOGIN\r\n", b64("user") + "\r\n", b64("secret") + "\r\n"};
  s.backends = {backend({backend_greeting, "t OK done\r\n"})};
  const auto session = s.run();
  EXPECT_EQ(session->client_written,
            greeting(caps_tls) + "+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\nt OK done\r\n");
  // The backend never sees LOGIN: the exchange is replayed as PLAIN.
  EXPECT_EQ(session->backend(0).written,
            "t AUTHENTICATE PLAIN " + b64(plain("user", "secret")) + "\r\n");
}

TEST(ImapSession, AuthenticateLoginInitialResponseIsTheUsername) {
  Scenario s;
  s.client = {"t AUTHENTICATE LOGIN " + b64("user") + "\r\n", b64("secret") + "\r\n"};
  s.backends = {backend({backend_greeting, "t OK done\r\n"})};
  const auto session = s.run();
  EXPECT_EQ(session->client_written, greeting(caps_tls) + "+ UGFzc3dvcmQ6\r\nt OK done\r\n");
  EXPECT_EQ(session->backend(0).written,
            "t AUTHENTICATE PLAIN " + b64(plain("user", "secret")) + "\r\n");
}

TEST(ImapSession, ReplaysAsLoginWithNonSyncLiteralsWhenBackendLacksAuthPlain) {
  Scenario s;
  s.client = {"a1 LOGIN user \"se cret\"\r\n"};
  s.backends = {backend({"* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n", "a1 OK done\r\n"})};
  const auto session = s.run();
  EXPECT_EQ(session->backend(0).written, "a1 LOGIN {4+}\r\nuser {7+}\r\nse cret\r\n");
  EXPECT_TRUE(session->bridged);
}

TEST(ImapSession, ReplaysAsLoginWithSynchronizingLiterals) {
  Scenario s;
  s.client = {"a1 LOGIN user secret\r\n"};
  s.backends = {
      backend({"* OK [CAPABILITY IMAP4rev1] hi\r\n", "+ go\r\n", "+ go\r\n", "a1 OK done\r\n"})};
  const auto session = s.run();
  EXPECT_EQ(session->backend(0).written, "a1 LOGIN {4}\r\nuser {6}\r\nsecret\r\n");
  EXPECT_EQ(session->client_written, greeting(caps_tls) + "a1 OK done\r\n");
}

TEST(ImapSession, KeepsAuthenticateWhenBackendDisablesLogin) {
  Scenario s;
  s.client = {"a1 LOGIN user secret\r\n"};
  s.backends = {backend({"* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] hi\r\n", "+ \r\n",
                         "a1 NO no such mechanism\r\n"})};
  const auto session = s.run();
  EXPECT_EQ(session->backend(0).written,
            "a1 AUTHENTICATE PLAIN\r\n" + b64(plain("user", "secret")) + "\r\n");
}

TEST(ImapSession, OauthErrorChallengeIsAcknowledged) {
  Scenario s;
  const std::string response =
      "n,a=carol@example.com,\x01"
      "auth=Bearer tok\x01\x01";
  s.client = {"a1 AUTHENTICATE OAUTHBEARER " + b64(response) + "\r\n", "a2 NOOP\r\n"};
  s.backends = {backend({backend_greeting, "+ eyJzdGF0dXMiOiI0MDEifQ==\r\n",
                         "a1 NO [AUTHENTICATIONFAILED] token expired\r\n"})};
  const auto session = s.run();
  // RFC 7628 section 3.2.3: the error challenge is answered with %x01.
  EXPECT_EQ(session->backend(0).written,
            "a1 AUTHENTICATE OAUTHBEARER " + b64(response) + "\r\nAQ==\r\n");
  EXPECT_EQ(session->client_written, greeting(caps_tls) +
                                         "a1 NO [AUTHENTICATIONFAILED] token expired\r\n"
                                         "a2 OK NOOP completed.\r\n");
}

TEST(ImapSession, XoauthErrorChallengeGetsEmptyResponse) {
  Scenario s;
  const std::string response =
      "user=dave@example.com\x01"
      "auth=Bearer tok\x01\x01";
  s.client = {"a1 AUTHENTICATE XOAUTH2 " + b64(response) + "\r\n"};
  s.backends = {backend({backend_greeting, "+ eyJzdGF0dXMiOiI0MDEifQ==\r\n", "a1 NO failed\r\n"})};
  const auto session = s.run();
  EXPECT_EQ(session->backend(0).written, "a1 AUTHENTICATE XOAUTH2 " + b64(response) + "\r\n\r\n");
}

TEST(ImapSession, UnexpectedPlainChallengeIsCancelled) {
  Scenario s;
  s.client = {"a1 LOGIN user secret\r\n"};
  s.backends = {backend({backend_greeting, "+ what\r\n", "a1 BAD cancelled\r\n"})};
  const auto session = s.run();
  EXPECT_EQ(session->backend(0).written,
            "a1 AUTHENTICATE PLAIN " + b64(plain("user", "secret")) + "\r\n*\r\n");
  EXPECT_EQ(session->client_written, greeting(caps_tls) + "a1 BAD cancelled\r\n");
  EXPECT_FALSE(session->bridged);
}

// --- backend refusals and failures ---

TEST(ImapSession, BackendRefusalReturnsToPreAuthAndRetrySucceeds) {
  Scenario s;
  s.client = {"a1 LOGIN user wrong\r\n", "a2 CAPABILITY\r\n", "a3 LOGIN user right\r\n"};
  s.backends = {backend({backend_greeting, "a1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n"}),
                backend({backend_greeting, "a3 OK done\r\n"})};
  const auto session = s.run();
  EXPECT_EQ(session->client_written, greeting(caps_tls) +
                                         "a1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n"
                                         "* CAPABILITY " +
                                         caps_tls +
                                         "\r\na2 OK CAPABILITY completed.\r\n"
                                         "a3 OK done\r\n");
  EXPECT_EQ(session->backends_used(), 2u);
  EXPECT_EQ(session->backend(1).written,
            "a3 AUTHENTICATE PLAIN " + b64(plain("user", "right")) + "\r\n");
  ASSERT_EQ(session->authenticated_as.size(), 1u);
  EXPECT_TRUE(session->bridged);
  EXPECT_EQ(std::count(session->phases.begin(), session->phases.end(), sdk::Phase::pre_auth), 2);
}

TEST(ImapSession, BackendRefusalCountsTowardsTheLimit) {
  Scenario s;
  s.max_auth_attempts = 2;
  s.client = {"a0 LOGIN x\r\n", "a1 LOGIN user wrong\r\n", "a2 NOOP\r\n"};
  s.backends = {backend({backend_greeting, "a1 NO nope\r\n"})};
  const auto session = s.run();
  EXPECT_EQ(session->client_written, greeting(caps_tls) +
                                         "a0 NO LOGIN requires a username and password.\r\n"
                                         "a1 NO nope\r\n"
                                         "* BYE Too many authentication failures.\r\n");
  EXPECT_FALSE(session->bridged);
}

TEST(ImapSession, HiddenAuthErrorsUseTheGenericLine) {
  Scenario s;
  s.client = {"a1 LOGIN user wrong\r\n"};
  BackendScript script = backend({backend_greeting, "* OK [ALERT] note\r\na1 NO no such user\r\n"});
  script.info.hide_auth_errors = true;
  s.backends = {script};
  const auto session = s.run();
  EXPECT_EQ(session->client_written, greeting(caps_tls) +
                                         "* OK [ALERT] note\r\n"
                                         "a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
}

TEST(ImapSession, BackendStarttlsUpgradesAndRereadsCapabilities) {
  Scenario s;
  s.client = {"a1 LOGIN user secret\r\n"};
  BackendScript script =
      backend({"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi\r\n",
               "P1 OK Begin TLS\r\nP2 OK injected before TLS\r\n",
               "* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN\r\nP2 OK done\r\n", "a1 OK welcome\r\n"});
  script.info.tls = sdk::TlsMode::starttls;
  s.backends = {script};
  const auto session = s.run();
  EXPECT_TRUE(session->backend(0).tls_started);
  EXPECT_EQ(session->backend(0).written, "P1 STARTTLS\r\nP2 CAPABILITY\r\na1 AUTHENTICATE PLAIN " +
                                             b64(plain("user", "secret")) + "\r\n");
  EXPECT_EQ(session->client_written, greeting(caps_tls) + "a1 OK welcome\r\n");
  EXPECT_TRUE(session->bridged);
}

TEST(ImapSession, BackendWithoutStarttlsIsUnavailable) {
  Scenario s;
  s.client = {"a1 LOGIN user secret\r\n", "a2 NOOP\r\n"};
  BackendScript script = backend({"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi\r\n"});
  script.info.tls = sdk::TlsMode::starttls;
  s.backends = {script};
  const auto session = s.run();
  EXPECT_EQ(session->client_written,
            greeting(caps_tls) + "a1 NO [UNAVAILABLE] backend unavailable\r\n");
  EXPECT_EQ(session->backend(0).written, "");
  ASSERT_EQ(session->unavailable.size(), 1u);
  EXPECT_EQ(session->unavailable[0].failure, sdk::Failure::protocol);
  EXPECT_EQ(session->unavailable[0].detail, "backend did not advertise STARTTLS");
  // Not retryable: another connection to the same backend would not help.
  EXPECT_FALSE(session->unavailable[0].retryable);
  EXPECT_FALSE(session->bridged);
}

TEST(ImapSession, BadBackendGreetingIsUnavailable) {
  for (const std::string bad : {"* PREAUTH logged in\r\n", "* BYE busy\r\n", "hello\r\n"}) {
    Scenario s;
    s.client = {"a1 LOGIN user secret\r\n"};
    s.backends = {backend({bad})};
    const auto session = s.run();
    EXPECT_EQ(session->client_written,
              greeting(caps_tls) + "a1 NO [UNAVAILABLE] backend unavailable\r\n")
        << bad;
    EXPECT_EQ(session->backend(0).written, "") << bad;
  }
}

TEST(ImapSession, RouteFailureIsUnavailable) {
  Scenario s;
  s.route_outcome = sdk::Outcome::fail(sdk::Failure::lookup, "store down");
  s.client = {"a1 LOGIN user secret\r\n", "a2 NOOP\r\n"};
  const auto session = s.run();
  EXPECT_EQ(session->client_written,
            greeting(caps_tls) + "a1 NO [UNAVAILABLE] backend unavailable\r\n");
  EXPECT_TRUE(session->destinations.empty());
  ASSERT_EQ(session->unavailable.size(), 1u);
  EXPECT_EQ(session->unavailable[0].failure, sdk::Failure::lookup);
  EXPECT_TRUE(session->client_closed());
  // The kernel's router logged it already.
  EXPECT_EQ(warnings(*session), 0u);
}

TEST(ImapSession, NoCredentialsOverPlaintextBackendLeg) {
  Scenario s;
  s.client = {"a1 LOGIN user secret\r\n"};
  BackendScript script = backend({backend_greeting});
  script.may_send_credentials = false;
  s.backends = {script};
  const auto session = s.run();
  EXPECT_EQ(session->client_written,
            greeting(caps_tls) + "a1 NO [UNAVAILABLE] backend unavailable\r\n");
  EXPECT_EQ(session->backend(0).written, "");
  ASSERT_EQ(session->unavailable.size(), 1u);
  EXPECT_EQ(session->unavailable[0].failure, sdk::Failure::plaintext);
  // Only the plugin knows of this one: it logs it, once.
  EXPECT_EQ(warnings(*session), 1u);
  EXPECT_TRUE(session->logger.contains("[plaintext]"));
}

TEST(ImapSession, BackendClosingDuringReplayIsUnavailable) {
  Scenario s;
  s.client = {"a1 LOGIN user secret\r\n"};
  s.backends = {backend({backend_greeting, "* OK still thinking\r\n"})};
  const auto session = s.run();
  EXPECT_EQ(session->client_written,
            greeting(caps_tls) + "a1 NO [UNAVAILABLE] backend unavailable\r\n");
  EXPECT_FALSE(session->bridged);
  ASSERT_EQ(session->unavailable.size(), 1u);
  EXPECT_EQ(session->unavailable[0].failure, sdk::Failure::connect);
  EXPECT_EQ(warnings(*session), 1u);
  EXPECT_TRUE(session->logger.contains("backend login failed [connect]"));
}

TEST(ImapSession, ConnectFailureGoesThroughFailUnavailable) {
  Scenario s;
  // No backend scripted: the fake kernel refuses the connection.
  s.client = {"a1 LOGIN user secret\r\na2 NOOP\r\n"};
  const auto session = s.run();
  EXPECT_EQ(session->client_written,
            greeting(caps_tls) + "a1 NO [UNAVAILABLE] backend unavailable\r\n");
  ASSERT_EQ(session->unavailable.size(), 1u);
  EXPECT_EQ(session->unavailable[0].failure, sdk::Failure::connect);
  EXPECT_EQ(session->unavailable[0].detail, "connection refused");
  EXPECT_TRUE(session->client_closed());
  EXPECT_EQ(session->destinations, std::vector<std::string>{"default"});
  // connect_backend() logged it with its category; no second warning.
  EXPECT_EQ(warnings(*session), 0u);
}

TEST(ImapSession, HandshakeFailureReachesTheClientOnce) {
  Scenario s;
  s.client = {"a1 LOGIN user secret\r\n"};
  s.backends = {backend({"* BYE too many connections\r\n"})};
  const auto session = s.run();
  EXPECT_EQ(session->client_written,
            greeting(caps_tls) + "a1 NO [UNAVAILABLE] backend unavailable\r\n");
  ASSERT_EQ(session->unavailable.size(), 1u);
  EXPECT_EQ(session->unavailable[0].failure, sdk::Failure::greeting);
  EXPECT_EQ(warnings(*session), 0u);
}

// --- retryable or not (behaviour contract 5.6) ---

// The outcome of the handshake against one backend that says `replies`.
sdk::Outcome handshake_outcome(std::deque<std::string> replies,
                               sdk::TlsMode tls = sdk::TlsMode::implicit,
                               std::errc end = std::errc::connection_aborted) {
  Scenario s;
  s.client = {"a1 LOGIN user secret\r\n"};
  BackendScript script = backend(std::move(replies));
  script.info.tls = tls;
  script.end = end;
  s.backends = {script};
  const auto session = s.run();
  EXPECT_EQ(session->handshakes.size(), 1u);
  return session->handshakes.empty() ? sdk::Outcome::ok() : session->handshakes.front();
}

TEST(ImapSession, MissingGreetingIsRetryable) {
  const sdk::Outcome eof = handshake_outcome({});
  EXPECT_EQ(eof.failure, sdk::Failure::greeting);
  EXPECT_TRUE(eof.retryable);

  const sdk::Outcome reset =
      handshake_outcome({}, sdk::TlsMode::implicit, std::errc::connection_reset);
  EXPECT_EQ(reset.failure, sdk::Failure::greeting);
  EXPECT_TRUE(reset.retryable);

  const sdk::Outcome timeout = handshake_outcome({}, sdk::TlsMode::implicit, std::errc::timed_out);
  EXPECT_EQ(timeout.failure, sdk::Failure::timeout);
  EXPECT_TRUE(timeout.retryable);
}

TEST(ImapSession, UnacceptableGreetingIsNotRetryable) {
  for (const std::string bad : {"* BYE busy\r\n", "* PREAUTH logged in\r\n", "hello\r\n"}) {
    const sdk::Outcome outcome = handshake_outcome({bad});
    EXPECT_EQ(outcome.failure, sdk::Failure::greeting) << bad;
    EXPECT_FALSE(outcome.retryable) << bad;
  }
}

TEST(ImapSession, LostHandshakeLinesAreRetryable) {
  // The greeting has no capabilities; the backend goes away (or stalls)
  // before answering CAPABILITY.
  const sdk::Outcome eof = handshake_outcome({"* OK hi\r\n"});
  EXPECT_EQ(eof.failure, sdk::Failure::connect);
  EXPECT_TRUE(eof.retryable);

  const sdk::Outcome timeout =
      handshake_outcome({"* OK hi\r\n"}, sdk::TlsMode::implicit, std::errc::timed_out);
  EXPECT_EQ(timeout.failure, sdk::Failure::timeout);
  EXPECT_TRUE(timeout.retryable);
}

TEST(ImapSession, StarttlsProblemsAreNotRetryable) {
  const sdk::Outcome missing =
      handshake_outcome({"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n"}, sdk::TlsMode::starttls);
  EXPECT_EQ(missing.failure, sdk::Failure::protocol);
  EXPECT_FALSE(missing.retryable);

  const sdk::Outcome refused = handshake_outcome(
      {"* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n", "P1 NO not now\r\n"}, sdk::TlsMode::starttls);
  EXPECT_EQ(refused.failure, sdk::Failure::protocol);
  EXPECT_FALSE(refused.retryable);
}

TEST(ImapSession, BackendTlsFailureKeepsItsOwnFlag) {
  Scenario s;
  s.client = {"a1 LOGIN user secret\r\n"};
  BackendScript script = backend({"* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n", "P1 OK go\r\n"});
  script.info.tls = sdk::TlsMode::starttls;
  s.backends = {script};
  // Operations: greeting write, client read, backend read (greeting),
  // STARTTLS write, backend read (P1 OK), TLS handshake.
  const auto session = s.run(6);
  ASSERT_EQ(session->handshakes.size(), 1u);
  EXPECT_EQ(session->handshakes[0].failure, sdk::Failure::tls);
  EXPECT_TRUE(session->handshakes[0].retryable);  // as the fake's start_tls() said
  EXPECT_EQ(session->client_written,
            greeting(caps_tls) + "a1 NO [UNAVAILABLE] backend unavailable\r\n");
}

// --- client identity forwarding (behaviour contract 5.4) ---

const std::string id_line =
    "F1 ID (\"x-originating-ip\" \"203.0.113.7\" \"x-originating-port\" \"51234\" "
    "\"x-connected-ip\" \"192.0.2.1\" \"x-connected-port\" \"143\" \"x-proxy-ttl\" \"6\" "
    "\"x-session-id\" \"P1\" \"x-client-transport\" \"insecure\")\r\n";

BackendScript forwarding_backend(sdk::Forwarding forwarding, std::deque<std::string> replies) {
  BackendScript script = backend(std::move(replies));
  script.info.forwarding = forwarding;
  return script;
}

TEST(ImapSession, SendsIdWhenForwardingIsXclientAndIdIsAdvertised) {
  Scenario s;
  s.client = {"a1 LOGIN user secret\r\n"};
  s.backends = {forwarding_backend(
      sdk::Forwarding::xclient,
      {backend_greeting, "* ID (\"name\" \"Dovecot\")\r\nF1 OK ID completed.\r\n",
       "a1 OK done\r\n"})};
  const auto session = s.run();
  EXPECT_EQ(session->backend(0).written,
            id_line + "a1 AUTHENTICATE PLAIN " + b64(plain("user", "secret")) + "\r\n");
  // The backend's ID data is not relayed to the client.
  EXPECT_EQ(session->client_written, greeting(caps_tls) + "a1 OK done\r\n");
  EXPECT_TRUE(session->bridged);
}

TEST(ImapSession, IdFollowsBackendStarttls) {
  Scenario s;
  s.client = {"a1 LOGIN user secret\r\n"};
  BackendScript script = forwarding_backend(
      sdk::Forwarding::xclient,
      {"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi\r\n", "P1 OK Begin TLS\r\n",
       "* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN ID\r\nP2 OK done\r\n", "f1 OK\r\n",
       "a1 OK welcome\r\n"});
  script.info.tls = sdk::TlsMode::starttls;
  s.backends = {script};
  const auto session = s.run();
  EXPECT_TRUE(session->backend(0).tls_started);
  EXPECT_EQ(session->backend(0).written, "P1 STARTTLS\r\nP2 CAPABILITY\r\n" + id_line +
                                             "a1 AUTHENTICATE PLAIN " +
                                             b64(plain("user", "secret")) + "\r\n");
  EXPECT_TRUE(session->bridged);
}

TEST(ImapSession, NoIdWhenTheBackendDoesNotAdvertiseIt) {
  Scenario s;
  s.client = {"a1 LOGIN user secret\r\n"};
  // ID before TLS does not count: the capabilities after STARTTLS lack it.
  BackendScript script = forwarding_backend(
      sdk::Forwarding::xclient,
      {"* OK [CAPABILITY IMAP4rev1 STARTTLS ID] hi\r\n", "P1 OK Begin TLS\r\n",
       "* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN\r\nP2 OK done\r\n", "a1 OK welcome\r\n"});
  script.info.tls = sdk::TlsMode::starttls;
  s.backends = {script};
  const auto session = s.run();
  EXPECT_EQ(session->backend(0).written, "P1 STARTTLS\r\nP2 CAPABILITY\r\na1 AUTHENTICATE PLAIN " +
                                             b64(plain("user", "secret")) + "\r\n");
  EXPECT_TRUE(session->logger.contains("does not advertise ID"));
  EXPECT_TRUE(session->bridged);
}

TEST(ImapSession, NoIdUnlessForwardingIsXclient) {
  for (const sdk::Forwarding forwarding : {sdk::Forwarding::proxy, sdk::Forwarding::none}) {
    Scenario s;
    s.client = {"a1 LOGIN user secret\r\n"};
    s.backends = {forwarding_backend(forwarding, {backend_greeting, "a1 OK done\r\n"})};
    const auto session = s.run();
    EXPECT_EQ(session->backend(0).written,
              "a1 AUTHENTICATE PLAIN " + b64(plain("user", "secret")) + "\r\n");
    EXPECT_TRUE(session->bridged);
  }
}

TEST(ImapSession, RefusedIdDoesNotStopTheLogin) {
  Scenario s;
  s.client = {"a1 LOGIN user secret\r\n"};
  s.backends = {forwarding_backend(
      sdk::Forwarding::xclient, {backend_greeting, "  F1 NO not trusted\r\n", "a1 OK done\r\n"})};
  const auto session = s.run();
  EXPECT_EQ(session->backend(0).written,
            id_line + "a1 AUTHENTICATE PLAIN " + b64(plain("user", "secret")) + "\r\n");
  EXPECT_TRUE(session->logger.contains("backend did not accept ID: F1 NO not trusted"));
  EXPECT_TRUE(session->bridged);
}

TEST(ImapSession, IdWithoutTaggedReplyWithin16LinesFails) {
  std::string untagged;
  for (int i = 0; i < 16; ++i) untagged += "* OK noise\r\n";
  {
    Scenario s;
    s.client = {"a1 LOGIN user secret\r\n"};
    s.backends = {forwarding_backend(sdk::Forwarding::xclient,
                                     {backend_greeting, untagged + "F1 OK late\r\n"})};
    const auto session = s.run();
    EXPECT_EQ(session->backend(0).written, id_line);
    EXPECT_EQ(session->client_written,
              greeting(caps_tls) + "a1 NO [UNAVAILABLE] backend unavailable\r\n");
    ASSERT_EQ(session->handshakes.size(), 1u);
    EXPECT_EQ(session->handshakes[0].failure, sdk::Failure::protocol);
    EXPECT_FALSE(session->handshakes[0].retryable);
    EXPECT_FALSE(session->bridged);
  }
  {
    // Fifteen untagged lines and the reply: within the limit.
    Scenario s;
    s.client = {"a1 LOGIN user secret\r\n"};
    s.backends = {forwarding_backend(
        sdk::Forwarding::xclient,
        {backend_greeting, untagged.substr(std::string("* OK noise\r\n").size()) + "F1 OK\r\n",
         "a1 OK done\r\n"})};
    const auto session = s.run();
    EXPECT_TRUE(session->bridged);
  }
}

TEST(ImapSession, BackendClosingAfterIdIsRetryable) {
  const auto outcome = [] {
    Scenario s;
    s.client = {"a1 LOGIN user secret\r\n"};
    s.backends = {forwarding_backend(sdk::Forwarding::xclient, {backend_greeting})};
    return s.run();
  }();
  ASSERT_EQ(outcome->handshakes.size(), 1u);
  EXPECT_EQ(outcome->handshakes[0].failure, sdk::Failure::connect);
  EXPECT_TRUE(outcome->handshakes[0].retryable);
}

// --- a hop count from an upstream proxy (Postern difference 7) ---

TEST(ImapSession, TrustedPeerIdTtlIsPassedToTheKernel) {
  Scenario s;
  s.trusted_peer = true;
  s.client = {"a ID (\"name\" \"postern\" \"X-Proxy-TTL\" \"4\")\r\nb NOOP\r\n"};
  const auto session = s.run();
  EXPECT_EQ(session->received_ttls, std::vector<unsigned>{4});
  EXPECT_EQ(session->client_written,
            greeting(caps_tls) + "* ID NIL\r\na OK ID completed.\r\nb OK NOOP completed.\r\n");
}

TEST(ImapSession, UntrustedPeerIdIsIgnored) {
  Scenario s;
  s.client = {"a ID (\"x-proxy-ttl\" \"4\")\r\n"};
  const auto session = s.run();
  EXPECT_TRUE(session->received_ttls.empty());
  EXPECT_EQ(session->client_written, greeting(caps_tls) + "* ID NIL\r\na OK ID completed.\r\n");
}

TEST(ImapSession, TrustedPeerIdWithoutAUsableTtlIsIgnored) {
  Scenario s;
  s.trusted_peer = true;
  s.client = {"a ID NIL\r\n", "b ID (\"x-proxy-ttl\")\r\n", "c ID (\"x-proxy-ttl\" \"many\")\r\n",
              "d ID (\"x-proxy-ttl\" NIL)\r\n", "e ID (x-proxy-ttl 4)\r\n", "f ID\r\n"};
  const auto session = s.run();
  EXPECT_TRUE(session->received_ttls.empty());
  std::string expected = greeting(caps_tls);
  for (const char* tag : {"a", "b", "c", "d", "e", "f"}) {
    expected += "* ID NIL\r\n" + std::string(tag) + " OK ID completed.\r\n";
  }
  EXPECT_EQ(session->client_written, expected);
}

// --- secrets and fault injection ---

struct Secrets {
  std::vector<std::string> values;
  void expect_absent(const testing::FakeLogger& logger) const {
    for (const testing::LogLine& line : logger.lines) {
      for (const std::string& secret : values) {
        EXPECT_EQ(line.text.find(secret), std::string::npos)
            << "secret \"" << secret << "\" in log line: " << line.text;
      }
    }
  }
};

// A session that touches every path that carries a secret: STARTTLS, a
// literal LOGIN, a refused login, AUTHENTICATE with a continuation, backend
// STARTTLS, capability discovery, replay by continuation, the bridge; and
// an upstream's ID and the ID sent to an xclient backend.
Scenario full_scenario() {
  Scenario s;
  s.listener = sdk::TlsMode::starttls;
  s.trusted_peer = true;
  s.client = {"s STARTTLS\r\n",
              "c CAPABILITY\r\n",
              "i ID (\"x-proxy-ttl\" \"5\")\r\n",
              "a1 LOGIN {16}\r\n",
              "user@example.com {14}\r\n",
              "Wr0ng-Passw0rd\r\n",
              "a2 AUTHENTICATE PLAIN\r\n",
              b64(plain("user@example.com", "R1ght-Passw0rd")) + "\r\n",
              "a3 AUTHENTICATE LOGIN " + b64("user@example.com") + "\r\n",
              b64("L0gin-Passw0rd") + "\r\na4 NOOP\r\n"};
  BackendScript first = backend({"* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n", "P1 OK go\r\n",
                                 "* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN\r\nP2 OK\r\n",
                                 "a1 NO [AUTHENTICATIONFAILED] no\r\n"});
  first.info.tls = sdk::TlsMode::starttls;
  BackendScript second = backend({"* OK hi\r\n", "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nP1 OK\r\n",
                                  "+ \r\n", "a2 NO [AUTHENTICATIONFAILED] no\r\n"});
  BackendScript third = backend({"* OK [CAPABILITY IMAP4rev1 LITERAL+ ID] hi\r\n", "F1 OK\r\n",
                                 "a3 OK welcome\r\n* 2 EXISTS\r\n"});
  third.info.forwarding = sdk::Forwarding::xclient;
  s.backends = {first, second, third};
  return s;
}

Secrets full_scenario_secrets() {
  Secrets secrets;
  for (const char* password : {"Wr0ng-Passw0rd", "R1ght-Passw0rd", "L0gin-Passw0rd"}) {
    secrets.values.push_back(password);
    secrets.values.push_back(b64(password));
    secrets.values.push_back(b64(plain("user@example.com", password)));
  }
  return secrets;
}

TEST(ImapSession, FullScenarioRunsToTheBridge) {
  const auto session = full_scenario().run();
  EXPECT_EQ(session->client_written, greeting(caps_starttls) +
                                         "s OK Begin TLS negotiation now.\r\n" + "* CAPABILITY " +
                                         caps_tls + "\r\nc OK CAPABILITY completed.\r\n" +
                                         "* ID NIL\r\ni OK ID completed.\r\n"
                                         "+ Ready for 16 bytes.\r\n+ Ready for 14 bytes.\r\n"
                                         "a1 NO [AUTHENTICATIONFAILED] no\r\n"
                                         "+ \r\na2 NO [AUTHENTICATIONFAILED] no\r\n"
                                         "+ UGFzc3dvcmQ6\r\na3 OK welcome\r\n");
  EXPECT_EQ(session->backend(2).written,
            id_line + "a3 LOGIN {16+}\r\nuser@example.com {14+}\r\nL0gin-Passw0rd\r\n");
  EXPECT_EQ(session->received_ttls, std::vector<unsigned>{5});
  EXPECT_TRUE(session->bridged);
  EXPECT_EQ(session->bridge_client_residual, "a4 NOOP\r\n");
  EXPECT_EQ(session->bridge_backend_residual, "* 2 EXISTS\r\n");
}

TEST(ImapSession, LogsNeverContainSecrets) {
  const auto session = full_scenario().run();
  ASSERT_TRUE(session->bridged);
  // The logger saw the session (commands are logged), just not the secrets.
  EXPECT_TRUE(session->logger.contains("a1 LOGIN <redacted>"));
  EXPECT_TRUE(session->logger.contains("a2 AUTHENTICATE PLAIN <redacted>"));
  full_scenario_secrets().expect_absent(session->logger);
}

TEST(ImapSession, FailingAnyOperationNeverCrashesOrHangs) {
  const Scenario scenario = full_scenario();
  const Secrets secrets = full_scenario_secrets();
  unsigned n = 1;
  for (; n < 500; ++n) {
    bool completed = false;
    const auto session = scenario.run(n, &completed);
    EXPECT_TRUE(completed) << "operation " << n;
    secrets.expect_absent(session->logger);
    if (session->faults.count < n) break;  // the run finished before operation n
    EXPECT_FALSE(session->bridged) << "operation " << n;
  }
  EXPECT_LT(n, 500u);
  EXPECT_GT(n, 20u);  // the scenario has many operations; each one was failed once
}

}  // namespace
}  // namespace postern::imap
