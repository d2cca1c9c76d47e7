#!/usr/bin/env bash
# oidc-login.sh: sign in through keygate's login form the way a web app
# does (authorization code flow with PKCE, S256) and print the token
# response as JSON: the tokens StackState, Grafana or oauth2-proxy would get.
#
#   KEYGATE_URL=https://sso.example.com CLIENT_SECRET=... PASSWORD=... \
#     docs/oidc-login.sh REALM CLIENT_ID REDIRECT_URI USERNAME [SCOPE]
#
# CLIENT_SECRET is empty for a public client; SCOPE defaults to "openid".
# The redirect URI must be one the client allows; nothing needs to listen
# there. IDP_HINT=alias signs in through that identity provider's login
# form instead (kc_idp_hint). OTP_SECRET answers the one-time-code form of
# a user with a TOTP device (HmacSHA1, 6 digits, 30 s): the secretData
# value of the user's Keycloak `otp` credential. Needs bash, curl, sed and
# openssl.
set -euo pipefail

if [ $# -lt 4 ]; then
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
realm=$1 client=$2 redirect=$3 username=$4 scope=${5:-openid}
: "${KEYGATE_URL:?set KEYGATE_URL to keygate's base URL}"
: "${PASSWORD:?set PASSWORD to the user's password}"
oidc=${KEYGATE_URL%/}/realms/$realm/protocol/openid-connect

jar=$(mktemp) body=$(mktemp)
trap 'rm -f "$jar" "$body"' EXIT
verifier=$(openssl rand -hex 32)
challenge=$(printf %s "$verifier" | openssl dgst -sha256 -binary | openssl base64 -A | tr '+/' '-_' | tr -d '=')

# The message of an error page or of the login form's alert, as text.
message() {
  sed -n 's/.*id="\(kc-error-message\|input-error\|kc-page-title\)"[^>]*>//p' <"$body" |
    sed 's#</div>.*##; s#</p>.*##; s#</h1>.*##; s/<[^>]*>//g; s/&#39;/'"'"'/g; s/&#34;/"/g; s/&amp;/\&/g; s/^ *//' | head -n 1
}
origin() { printf %s "$1" | sed -E 's#^(https?://[^/]+).*#\1#'; }
# The current TOTP code (RFC 6238; HmacSHA1, 6 digits, 30 s) of a key
# given as Keycloak stores it: its text is the HMAC key.
totp() {
  local t h o
  t=$(( $(date +%s) / 30 ))
  h=$(printf "$(printf '%016x' "$t" | sed 's/../\\x&/g')" | openssl dgst -sha1 -mac HMAC -macopt "key:$1" -r | cut -c1-40)
  o=$(( 0x${h:39:1} * 2 ))
  printf '%06d\n' $(( (0x${h:o:8} & 0x7fffffff) % 1000000 ))
}

# The authorization request; with IDP_HINT it ends on the provider's form.
effective=$(curl -sS -L -c "$jar" -b "$jar" -o "$body" -w '%{url_effective}' -G "$oidc/auth" \
  --data-urlencode "client_id=$client" --data-urlencode "redirect_uri=$redirect" \
  --data-urlencode "response_type=code" --data-urlencode "scope=$scope" \
  --data-urlencode "state=$(openssl rand -hex 8)" --data-urlencode "code_challenge=$challenge" \
  --data-urlencode "code_challenge_method=S256" ${IDP_HINT:+--data-urlencode "kc_idp_hint=$IDP_HINT"})
action=$(sed -n 's/.*id="kc-form-login"[^>]*action="\([^"]*\)".*/\1/p' <"$body" | sed 's/&amp;/\&/g')
csrf=$(sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' <"$body")
if [ -z "$action" ]; then
  echo "no login form: $(message)" >&2
  exit 1
fi
case $action in /*) action=$(origin "$effective")$action ;; esac

# The form, then the redirects (through keygate's broker endpoint when an
# identity provider signed the user in) back to the application.
next=$(curl -sS -c "$jar" -b "$jar" -o "$body" -w '%{http_code} %{redirect_url}' "$action" \
  --data-urlencode "username=$username" --data-urlencode "password=$PASSWORD" --data-urlencode "csrf_token=$csrf")
otp_sent=
for _ in 1 2 3 4 5 6 7 8; do
  status=${next%% *} location=${next#* }
  case $status in
    30[1237]) ;;
    200)
      # The one-time-code form after the password, answered once.
      form=$(sed -n 's/.*id="kc-otp-login-form"[^>]*action="\([^"]*\)".*/\1/p' <"$body" | sed 's/&amp;/\&/g')
      if [ -z "$form" ] || [ -z "${OTP_SECRET:-}" ] || [ -n "$otp_sent" ]; then
        echo "login stopped with $status: $(message)" >&2; exit 1
      fi
      otp_sent=1
      csrf=$(sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' <"$body")
      case $form in /*) form=$(origin "$effective")$form ;; esac
      next=$(curl -sS -c "$jar" -b "$jar" -o "$body" -w '%{http_code} %{redirect_url}' "$form" \
        --data-urlencode "otp=$(totp "$OTP_SECRET")" --data-urlencode "csrf_token=$csrf")
      continue ;;
    *) echo "login stopped with $status: $(message)" >&2; exit 1 ;;
  esac
  [ "${location%%\?*}" = "${redirect%%\?*}" ] && break
  next=$(curl -sS -c "$jar" -b "$jar" -o "$body" -w '%{http_code} %{redirect_url}' "$location")
done
code=$(printf %s "$location" | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p')
if [ -z "$code" ]; then
  echo "no code in the redirect to the application: $location" >&2
  exit 1
fi

if [ -n "${CLIENT_SECRET:-}" ]; then
  auth=(-u "$client:$CLIENT_SECRET")
else
  auth=(--data-urlencode "client_id=$client")
fi
curl -sS "${auth[@]}" "$oidc/token" -d grant_type=authorization_code \
  --data-urlencode "code=$code" --data-urlencode "redirect_uri=$redirect" \
  --data-urlencode "code_verifier=$verifier"
echo
