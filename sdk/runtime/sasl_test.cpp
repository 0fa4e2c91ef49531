#include <postern/sdk/sasl.hpp>

#include <postern/sdk/config.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace postern::sdk::sasl {
namespace {

using namespace std::string_literals;

// Unpadded URL-safe base64 (RFC 4648 section 5) built from the standard
// encoder, which the vectors below pin down independently.
std::string base64url(std::string_view bytes) {
  std::string text = encode_base64(bytes);
  while (!text.empty() && text.back() == '=') text.pop_back();
  for (char& c : text) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return text;
}

std::string jwt(std::string_view claims_json) {
  return base64url(R"({"alg":"RS256","typ":"JWT"})") + "." + base64url(claims_json) + ".c2ln";
}

// --- mechanisms ---

TEST(SaslMechanism, ParsesCaseInsensitively) {
  EXPECT_EQ(parse_mechanism("plain"), Mechanism::plain);
  EXPECT_EQ(parse_mechanism("Login"), Mechanism::login);
  EXPECT_EQ(parse_mechanism("OAUTHBEARER"), Mechanism::oauthbearer);
  EXPECT_EQ(parse_mechanism("xOAuth2"), Mechanism::xoauth2);
  EXPECT_FALSE(parse_mechanism("CRAM-MD5"));
  EXPECT_FALSE(parse_mechanism("PLAINX"));
  EXPECT_FALSE(parse_mechanism("PLAI"));
  EXPECT_FALSE(parse_mechanism(""));
}

TEST(SaslMechanism, NamesAndCleartextFlags) {
  EXPECT_EQ(mechanism_name(Mechanism::plain), "PLAIN");
  EXPECT_EQ(mechanism_name(Mechanism::login), "LOGIN");
  EXPECT_EQ(mechanism_name(Mechanism::oauthbearer), "OAUTHBEARER");
  EXPECT_EQ(mechanism_name(Mechanism::xoauth2), "XOAUTH2");
  EXPECT_TRUE(is_cleartext(Mechanism::plain));
  EXPECT_TRUE(is_cleartext(Mechanism::login));
  EXPECT_FALSE(is_cleartext(Mechanism::oauthbearer));
  EXPECT_FALSE(is_cleartext(Mechanism::xoauth2));
  const std::vector<Mechanism> expected = {Mechanism::plain, Mechanism::login,
                                           Mechanism::oauthbearer, Mechanism::xoauth2};
  EXPECT_EQ(default_mechanisms(), expected);
}

// --- base64 ---

TEST(SaslBase64, EncodesRfc4648Vectors) {
  // RFC 4648 section 10.
  EXPECT_EQ(encode_base64(""), "");
  EXPECT_EQ(encode_base64("f"), "Zg==");
  EXPECT_EQ(encode_base64("fo"), "Zm8=");
  EXPECT_EQ(encode_base64("foo"), "Zm9v");
  EXPECT_EQ(encode_base64("foob"), "Zm9vYg==");
  EXPECT_EQ(encode_base64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(encode_base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(encode_base64("\xff\xfe\xfd"s), "//79");
  EXPECT_EQ(encode_base64("\xfb\xef"s), "++8=");
}

TEST(SaslBase64, LenientDecodesStandardInput) {
  EXPECT_EQ(decode_base64_lenient("Zm9vYmFy"), "foobar");
  EXPECT_EQ(decode_base64_lenient("Zm9vYg=="), "foob");
  EXPECT_EQ(decode_base64_lenient("Zm9vYmE="), "fooba");
  EXPECT_EQ(decode_base64_lenient("//79"), "\xff\xfe\xfd"s);
  EXPECT_EQ(decode_base64_lenient("++8="), "\xfb\xef"s);
  EXPECT_EQ(decode_base64_lenient("AHVzZXIAcGFzcw=="), "\0user\0pass"s);
}

TEST(SaslBase64, LenientEmptyInputIsEmpty) {
  EXPECT_EQ(decode_base64_lenient(""), "");
  EXPECT_EQ(decode_base64_lenient("  \r\n"), "");
  EXPECT_EQ(decode_base64_lenient("="), "");
}

TEST(SaslBase64, LenientSkipsWhitespaceAnywhere) {
  EXPECT_EQ(decode_base64_lenient(" Zm 9v\tYm\r\nFy \n"), "foobar");
  EXPECT_EQ(decode_base64_lenient("Z\nm\n9\nv"), "foo");
}

TEST(SaslBase64, LenientPaddingEndsAGroupAnywhere) {
  // Two groups each closed by padding, then decoding continues.
  EXPECT_EQ(decode_base64_lenient("Zg==Zg=="), "ff");
  EXPECT_EQ(decode_base64_lenient("Zm8=Zm9v"), "fofoo");
  // A single '=' after two sextets already closes the group.
  EXPECT_EQ(decode_base64_lenient("Zg=Zm9v"), "ffoo");
  // Extra padding finds an empty group and is harmless.
  EXPECT_EQ(decode_base64_lenient("Zg===="), "f");
  EXPECT_EQ(decode_base64_lenient("==Zm9v"), "foo");
  // One sextet carries no whole byte.
  EXPECT_EQ(decode_base64_lenient("Z=Zm9v"), "foo");
}

TEST(SaslBase64, LenientDropsTrailingIncompleteGroup) {
  EXPECT_EQ(decode_base64_lenient("Zm9vYg"), "foo");
  EXPECT_EQ(decode_base64_lenient("Zm9vYmE"), "foo");
  EXPECT_EQ(decode_base64_lenient("Z"), "");
}

TEST(SaslBase64, LenientRejectsForeignBytes) {
  EXPECT_FALSE(decode_base64_lenient("*"));
  EXPECT_FALSE(decode_base64_lenient("Zm9v*"));
  EXPECT_FALSE(decode_base64_lenient("Zm9-"));
  EXPECT_FALSE(decode_base64_lenient("Zm9_"));
  EXPECT_FALSE(decode_base64_lenient("\"Zm9v\""));
  EXPECT_FALSE(decode_base64_lenient("Zm9v\v"));
  EXPECT_FALSE(decode_base64_lenient("Zm9v\0"s));
  EXPECT_FALSE(decode_base64_lenient("Zm9v\xc3\xa9"s));
}

TEST(SaslBase64, UrlSafeDecodesUnpadded) {
  EXPECT_EQ(decode_base64url(""), "");
  EXPECT_EQ(decode_base64url("Zg"), "f");
  EXPECT_EQ(decode_base64url("Zm8"), "fo");
  EXPECT_EQ(decode_base64url("Zm9v"), "foo");
  EXPECT_EQ(decode_base64url("__79"), "\xff\xfe\xfd"s);
  EXPECT_EQ(decode_base64url("--8"), "\xfb\xef"s);
}

TEST(SaslBase64, UrlSafeRejectsPaddingStandardDigitsAndNonCanonicalInput) {
  EXPECT_FALSE(decode_base64url("Zg=="));
  EXPECT_FALSE(decode_base64url("Zm8="));
  EXPECT_FALSE(decode_base64url("//79"));
  EXPECT_FALSE(decode_base64url("++8"));
  EXPECT_FALSE(decode_base64url("Zm9v Zg"));
  EXPECT_FALSE(decode_base64url("Zm9vY"));  // a lone final digit
  EXPECT_FALSE(decode_base64url("Zh"));     // non-zero unused bits
  EXPECT_FALSE(decode_base64url("Zm9"));
}

// --- PLAIN and LOGIN ---

TEST(SaslPlain, ParsesAuthzidAuthcidPassword) {
  const std::string decoded = "admin\0user@example.com\0secret"s;
  auto credentials = parse_plain(decoded);
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->mechanism, Mechanism::plain);
  EXPECT_EQ(credentials->identifier, "user@example.com");
  EXPECT_EQ(credentials->username, "user@example.com");
  EXPECT_EQ(credentials->password, "secret");
  EXPECT_EQ(credentials->response, decoded);
}

TEST(SaslPlain, EmptyAuthzidIsFine) {
  auto credentials = parse_plain("\0bob\0pw"s);
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->identifier, "bob");
  EXPECT_EQ(credentials->password, "pw");
}

TEST(SaslPlain, FurtherPartsAreIgnoredButReplayed) {
  const std::string decoded = "\0bob\0pw\0extra\0more"s;
  auto credentials = parse_plain(decoded);
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->identifier, "bob");
  EXPECT_EQ(credentials->password, "pw");
  EXPECT_EQ(credentials->response, decoded);
}

TEST(SaslPlain, RejectsMissingOrEmptyParts) {
  EXPECT_FALSE(parse_plain(""));
  EXPECT_FALSE(parse_plain("bob"));
  EXPECT_FALSE(parse_plain("\0bob"s));
  EXPECT_FALSE(parse_plain("\0bob\0"s));
  EXPECT_FALSE(parse_plain("\0\0pw"s));
  EXPECT_FALSE(parse_plain("\0bob\0\0pw"s));
}

TEST(SaslPlain, RequiresUtf8AuthcidAndPassword) {
  EXPECT_TRUE(parse_plain("\0j\xc3\xbcrgen\0p\xc3\xa4ss"s));
  EXPECT_FALSE(parse_plain("\0j\xfcrgen\0pw"s));
  EXPECT_FALSE(parse_plain("\0bob\0p\xe4ss"s));
  EXPECT_FALSE(parse_plain("\0bob\0\xc0\xafpw"s));      // overlong encoding
  EXPECT_FALSE(parse_plain("\0bob\0\xed\xa0\x80pw"s));  // UTF-16 surrogate
  // The authzid is replayed verbatim and not checked.
  EXPECT_TRUE(parse_plain("\xff\0bob\0pw"s));
}

TEST(SaslLogin, BuildsPlainResponse) {
  auto credentials = from_login("alice@example.com", "s3cret");
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->mechanism, Mechanism::plain);
  EXPECT_EQ(credentials->response, "\0alice@example.com\0s3cret"s);
  EXPECT_EQ(credentials->identifier, "alice@example.com");
  EXPECT_EQ(credentials->username, "alice@example.com");
  EXPECT_EQ(credentials->password, "s3cret");
}

TEST(SaslLogin, RejectsEmptyValuesAndEmbeddedNul) {
  EXPECT_FALSE(from_login("", "pw"));
  EXPECT_FALSE(from_login("bob", ""));
  EXPECT_FALSE(from_login("bob\0x"s, "pw"));
  EXPECT_FALSE(from_login("bob", "p\0w"s));
}

// --- OAUTHBEARER and XOAUTH2 ---

TEST(SaslOauth, OauthbearerTakesAuthzidWithAt) {
  const std::string decoded = "n,a=user@example.com,\x01host=imap.example.com\x01port=993\x01"
                              "auth=Bearer opaque-token\x01\x01";
  auto credentials = parse_oauth(Mechanism::oauthbearer, decoded, "");
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->mechanism, Mechanism::oauthbearer);
  EXPECT_EQ(credentials->identifier, "user@example.com");
  EXPECT_EQ(credentials->response, decoded);
  EXPECT_TRUE(credentials->password.empty());
}

TEST(SaslOauth, AuthzidKeyIsCaseInsensitive) {
  auto credentials =
      parse_oauth(Mechanism::oauthbearer, "n,A=user@example.com,\x01" "auth=Bearer t\x01\x01", "");
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->identifier, "user@example.com");
}

TEST(SaslOauth, AuthzidWithoutAtFallsBackToToken) {
  const std::string token = jwt(R"({"email":"claim@example.com"})");
  auto credentials = parse_oauth(
      Mechanism::oauthbearer, "n,a=justauser,\x01" "auth=Bearer " + token + "\x01\x01", "");
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->identifier, "claim@example.com");

  auto opaque =
      parse_oauth(Mechanism::oauthbearer, "n,a=justauser,\x01" "auth=Bearer opaque\x01\x01", "");
  ASSERT_TRUE(opaque);
  EXPECT_EQ(opaque->identifier, "");
}

TEST(SaslOauth, AuthzidSaslnameEscapesAreDecoded) {
  // RFC 5801 section 4: ',' is sent as =2C and '=' as =3D.
  auto credentials = parse_oauth(Mechanism::oauthbearer,
                                 "n,a=a=3Db=2Cc@example.com,\x01" "auth=Bearer t\x01\x01", "");
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->identifier, "a=b,c@example.com");
  auto bad_escape =
      parse_oauth(Mechanism::oauthbearer, "n,a=a=41@example.com,\x01" "auth=Bearer t\x01\x01", "");
  ASSERT_TRUE(bad_escape);
  EXPECT_EQ(bad_escape->identifier, "");
}

TEST(SaslOauth, AuthzidOnlyFromTheGs2Header) {
  // A ",a=" later in the message is not an authzid.
  auto credentials = parse_oauth(
      Mechanism::oauthbearer, "n,,\x01host=x,a=evil@example.com\x01" "auth=Bearer t\x01\x01", "");
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->identifier, "");
}

TEST(SaslOauth, Xoauth2UsesUserField) {
  const std::string decoded = "user=someone@example.com\x01" "auth=Bearer ya29.token\x01\x01";
  auto credentials = parse_oauth(Mechanism::xoauth2, decoded, "");
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->mechanism, Mechanism::xoauth2);
  EXPECT_EQ(credentials->identifier, "someone@example.com");
  EXPECT_EQ(credentials->response, decoded);
}

TEST(SaslOauth, Xoauth2UserFieldWinsOverToken) {
  const std::string token = jwt(R"({"email":"claim@example.com"})");
  auto credentials = parse_oauth(
      Mechanism::xoauth2, "user=field@example.com\x01" "auth=Bearer " + token + "\x01\x01", "");
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->identifier, "field@example.com");
}

TEST(SaslOauth, Xoauth2WithoutUserFieldUsesToken) {
  const std::string token = jwt(R"({"email":"claim@example.com"})");
  auto credentials = parse_oauth(Mechanism::xoauth2, "auth=Bearer " + token + "\x01\x01", "");
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->identifier, "claim@example.com");
  auto empty_user =
      parse_oauth(Mechanism::xoauth2, "user=\x01" "auth=Bearer " + token + "\x01\x01", "");
  ASSERT_TRUE(empty_user);
  EXPECT_EQ(empty_user->identifier, "claim@example.com");
}

TEST(SaslOauth, UserFieldIsIgnoredForOauthbearer) {
  auto credentials = parse_oauth(Mechanism::oauthbearer,
                                 "n,,\x01user=x@example.com\x01" "auth=Bearer t\x01\x01", "");
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->identifier, "");
}

TEST(SaslOauth, BearerPrefixIsCaseInsensitiveWithExactlyOneSpace) {
  auto lower = parse_oauth(Mechanism::xoauth2, "AUTH=bearer tok\x01\x01", "");
  ASSERT_TRUE(lower);
  EXPECT_EQ(lower->response, "AUTH=bearer tok\x01\x01");
  EXPECT_FALSE(parse_oauth(Mechanism::xoauth2, "auth=Bearer\x01\x01", ""));
  EXPECT_FALSE(parse_oauth(Mechanism::xoauth2, "auth=Bearertok\x01\x01", ""));
  EXPECT_FALSE(parse_oauth(Mechanism::xoauth2, "auth=Bearer \x01\x01", ""));
  EXPECT_FALSE(parse_oauth(Mechanism::oauthbearer, "n,a=u@example.com,\x01\x01", ""));
  EXPECT_FALSE(parse_oauth(Mechanism::oauthbearer, "", ""));
}

TEST(SaslOauth, FirstBearerFieldWins) {
  const std::string first = jwt(R"({"email":"first@example.com"})");
  const std::string second = jwt(R"({"email":"second@example.com"})");
  auto credentials = parse_oauth(
      Mechanism::xoauth2, "auth=Bearer " + first + "\x01" "auth=Bearer " + second + "\x01\x01", "");
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->identifier, "first@example.com");
}

TEST(SaslOauth, TokenRunsToEndWithoutTerminator) {
  const std::string token = jwt(R"({"sub":"end@example.com"})");
  auto credentials = parse_oauth(Mechanism::xoauth2, "auth=Bearer " + token, "");
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->identifier, "end@example.com");
}

TEST(SaslOauth, OtherMechanismsAreNotOauth) {
  EXPECT_FALSE(parse_oauth(Mechanism::plain, "auth=Bearer t\x01\x01", ""));
  EXPECT_FALSE(parse_oauth(Mechanism::login, "auth=Bearer t\x01\x01", ""));
}

// --- tokens ---

TEST(SaslToken, StalwartTokenCarriesAccountName) {
  const std::string token = "sw1.abc123." + base64url("jane");
  EXPECT_EQ(identifier_from_token(token, ""), "jane");  // no '@' required
  EXPECT_EQ(identifier_from_token("sw1.x." + base64url("j\xc3\xa4ne@example.com"), ""),
            "j\xc3\xa4ne@example.com");
}

TEST(SaslToken, MalformedStalwartTokenHasNoJwtFallback) {
  EXPECT_FALSE(identifier_from_token("sw1.nodot", ""));
  EXPECT_FALSE(identifier_from_token("sw1.x.Zg==", ""));
  EXPECT_FALSE(identifier_from_token("sw1.x." + base64url("\xff\xfe"), ""));
  EXPECT_FALSE(identifier_from_token("sw1.x.", ""));
  // A JWT-shaped remainder is still read as a Stalwart token, not a JWT.
  const std::string claims = base64url(R"({"email":"a@example.com"})");
  EXPECT_FALSE(identifier_from_token("sw1." + claims + "." + claims + ".sig", ""));
}

TEST(SaslToken, JwtClaimOrder) {
  const std::string all = jwt(R"({"sub":"s@example.com","unique_name":"n@example.com",)"
                              R"("upn":"u@example.com","preferred_username":"p@example.com",)"
                              R"("email":"e@example.com","login":"l@example.com"})");
  EXPECT_EQ(identifier_from_token(all, ""), "e@example.com");
  EXPECT_EQ(identifier_from_token(all, "login"), "l@example.com");
  EXPECT_EQ(identifier_from_token(all, "absent"), "e@example.com");
  EXPECT_EQ(identifier_from_token(jwt(R"({"sub":"s@example.com","upn":"u@example.com"})"), ""),
            "u@example.com");
  EXPECT_EQ(identifier_from_token(jwt(R"({"sub":"s@example.com","unique_name":"n@x"})"), ""),
            "n@x");
  EXPECT_EQ(identifier_from_token(jwt(R"({"sub":"s@example.com"})"), ""), "s@example.com");
  EXPECT_EQ(identifier_from_token(jwt(R"({"preferred_username":"p@e","upn":"u@e"})"), ""), "p@e");
}

TEST(SaslToken, JwtClaimsWithoutAtOrNotStringsAreSkipped) {
  EXPECT_EQ(identifier_from_token(jwt(R"({"email":"nobody","sub":"s@example.com"})"), ""),
            "s@example.com");
  EXPECT_EQ(
      identifier_from_token(jwt(R"({"email":["x@example.com"],"upn":"u@example.com"})"), ""),
      "u@example.com");
  EXPECT_EQ(identifier_from_token(jwt(R"({"email":{"v":"x@example.com"},"sub":"s@e"})"), ""),
            "s@e");
  EXPECT_FALSE(identifier_from_token(jwt(R"({"email":"nobody","sub":"1234"})"), ""));
  EXPECT_FALSE(identifier_from_token(jwt(R"({"custom":"c@example.com"})"), ""));
  // A configured claim without '@' does not stop the search.
  EXPECT_EQ(identifier_from_token(jwt(R"({"login":"plain","email":"e@x"})"), "login"), "e@x");
}

TEST(SaslToken, JwtLastDuplicateClaimWins) {
  EXPECT_EQ(identifier_from_token(jwt(R"({"email":"a@x","email":"b@x"})"), ""), "b@x");
}

TEST(SaslToken, JwtSegmentMustBeUnpaddedUrlSafe) {
  // Not a multiple of 3 bytes, so the padded form ends in '='.
  const std::string claims = R"({"email":"e@example.com","n":1})";
  const std::string good = base64url(claims);
  ASSERT_NE(encode_base64(claims).back(), good.back());
  EXPECT_EQ(identifier_from_token("h." + good + ".s", ""), "e@example.com");
  EXPECT_FALSE(identifier_from_token("h." + encode_base64(claims) + ".s", ""));
  // The signature segment may be absent; the claims are the second segment.
  EXPECT_EQ(identifier_from_token("h." + good, ""), "e@example.com");
  EXPECT_FALSE(identifier_from_token(good, ""));
  EXPECT_FALSE(identifier_from_token("opaque-token", ""));
  EXPECT_FALSE(identifier_from_token("", ""));
}

TEST(SaslToken, JwtStringEscapes) {
  EXPECT_EQ(identifier_from_token(jwt(R"({"email":"a\u0040b.example"})"), ""), "a@b.example");
  EXPECT_EQ(identifier_from_token(jwt(R"({"email":"j\u00fcrgen@x"})"), ""), "j\xc3\xbcrgen@x");
  EXPECT_EQ(identifier_from_token(jwt(R"({"email":"\ud83d\ude00@x"})"), ""), "\xf0\x9f\x98\x80@x");
  EXPECT_EQ(identifier_from_token(jwt(R"({"email":"a\/b\\c\"d@x"})"), ""), "a/b\\c\"d@x");
  EXPECT_EQ(identifier_from_token(jwt(R"({"e\u006dail":"e@x"})"), ""), "e@x");
  // Lone or reversed surrogates and unknown escapes are invalid JSON.
  EXPECT_FALSE(identifier_from_token(jwt(R"({"email":"\ud83d@x"})"), ""));
  EXPECT_FALSE(identifier_from_token(jwt(R"({"email":"\ude00\ud83d@x"})"), ""));
  EXPECT_FALSE(identifier_from_token(jwt(R"({"email":"\ud83d\u0041@x"})"), ""));
  EXPECT_FALSE(identifier_from_token(jwt(R"({"email":"\x41@x"})"), ""));
  EXPECT_FALSE(identifier_from_token(jwt(R"({"email":"\u00g1@x"})"), ""));
  EXPECT_FALSE(identifier_from_token(jwt("{\"email\":\"a\tb@x\"}"), ""));
}

TEST(SaslToken, JwtRejectsMalformedJson) {
  for (const std::string claims :
       {R"(["email","e@x"])", R"({"email":"e@x")", R"({"email":"e@x",})", R"({"email" "e@x"})",
        R"({email:"e@x"})", R"({"email":"e@x"} x)", R"({"n":01,"email":"e@x"})",
        R"({"n":1.,"email":"e@x"})", R"({"n":-,"email":"e@x"})", R"({"n":tru,"email":"e@x"})",
        R"({"a":[1,],"email":"e@x"})", R"({"a":{"b"},"email":"e@x"})", "",
        "{\"email\":\"\xff@x\"}"}) {
    EXPECT_FALSE(identifier_from_token(jwt(claims), "")) << claims;
  }
}

TEST(SaslToken, JwtAcceptsEveryValueKind) {
  const std::string claims =
      R"( { "n" : -12.5e+3 , "z":0, "t":true, "f":false, "u":null, "a":[1,"x",[],{}],)"
      R"( "o":{"k":[{"email":"inner@x"}]}, "email" : "e@x" } )";
  EXPECT_EQ(identifier_from_token(jwt(claims), ""), "e@x");
  // Nested members are not claims.
  EXPECT_FALSE(identifier_from_token(jwt(R"({"o":{"email":"inner@x"}})"), ""));
}

TEST(SaslToken, JwtNestingIsBounded) {
  const auto nested = [](std::size_t depth) {
    return R"({"a":)" + std::string(depth, '[') + std::string(depth, ']') + R"(,"email":"e@x"})";
  };
  EXPECT_EQ(identifier_from_token(jwt(nested(20)), ""), "e@x");
  EXPECT_FALSE(identifier_from_token(jwt(nested(100000)), ""));
}

// --- identifiers and wiping ---

TEST(SaslIdentifier, RejectsControlBytesSpaceDelAndQuote) {
  EXPECT_TRUE(identifier_is_valid("user@example.com"));
  EXPECT_TRUE(identifier_is_valid("j\xc3\xbcrgen@example.com"));
  EXPECT_TRUE(identifier_is_valid(""));
  EXPECT_FALSE(identifier_is_valid("user @example.com"));
  EXPECT_FALSE(identifier_is_valid("user\"@example.com"));
  EXPECT_FALSE(identifier_is_valid("user\x7f"));
  EXPECT_FALSE(identifier_is_valid("user\r\n"));
  EXPECT_FALSE(identifier_is_valid("user\0"s));
  EXPECT_FALSE(identifier_is_valid("\x1f"));
}

TEST(SaslWipe, ClearsTheWholeBuffer) {
  std::string secret(64, 'S');
  const char* buffer = secret.data();
  secret.resize(3);
  wipe(secret);
  EXPECT_TRUE(secret.empty());
  EXPECT_EQ(secret.data(), buffer);  // no reallocation: the bytes were cleansed in place
  for (std::size_t i = 0; i < 64; ++i) EXPECT_EQ(buffer[i], '\0') << i;
}

// --- closest_match (sdk/runtime/config.cpp) ---

TEST(ClosestMatch, SuggestsNearestCandidate) {
  const std::vector<std::string> keys = {"path", "source", "normalize", "positive_ttl"};
  EXPECT_EQ(closest_match("pth", keys), "path");
  EXPECT_EQ(closest_match("sorce", keys), "source");
  EXPECT_EQ(closest_match("normalise", keys), "normalize");
  EXPECT_EQ(closest_match("postive_tll", keys), "positive_ttl");
}

TEST(ClosestMatch, IsCaseInsensitive) {
  EXPECT_EQ(closest_match("PATH", {"path", "bath"}), "path");
}

TEST(ClosestMatch, EmptyWhenNothingIsClose) {
  EXPECT_EQ(closest_match("certificate", {"path", "source"}), "");
  EXPECT_EQ(closest_match("path", {}), "");
  EXPECT_EQ(closest_match("xyz", {"path"}), "");
}

TEST(ClosestMatch, PrefersTheFirstOfEquallyCloseCandidates) {
  EXPECT_EQ(closest_match("cat", {"bat", "hat"}), "bat");
  EXPECT_EQ(closest_match("cat", {"hat", "bat"}), "hat");
}

TEST(ClosestMatch, ToleranceGrowsWithWordLength) {
  // Short words allow two edits; longer ones about a third of their length.
  EXPECT_EQ(closest_match("ab", {"xy"}), "xy");
  EXPECT_EQ(closest_match("abc", {"xyz"}), "");
  EXPECT_EQ(closest_match("abcdefghijkl", {"abcdefghwxyz"}), "abcdefghwxyz");
  EXPECT_EQ(closest_match("abcdefghijkl", {"abcdefgvwxyz"}), "");
}

}  // namespace
}  // namespace postern::sdk::sasl
