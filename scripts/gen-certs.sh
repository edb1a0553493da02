#!/usr/bin/env bash
# gen-certs.sh - create the hcidp signing key and certificate with OpenSSL.
#
# Follows the OpenSSL recipe in Huawei Cloud's Partner Center guide ("生成证书"):
#   1. CA key pair            openssl genrsa
#   2. CA certificate         openssl req -new -x509
#   3. IdP key pair           openssl genrsa
#   4. IdP CSR                openssl req -new
#   5. IdP certificate        openssl x509 -req, signed by the CA
# and writes, into certs/ by default:
#   ca.key  (0600)  CA private key - keep it offline, it can mint IdP certificates
#   ca.crt  (0644)  CA certificate
#   idp.key (0600)  IdP private key (hcidp signs assertions with it)
#   idp.crt (0644)  IdP certificate (goes into the IdP metadata uploaded to Partner Center)
# The CSR is removed. Existing files are never replaced without --force.
# Private keys are never printed.
#
# The same result (minus the CA) can be obtained natively in Go with package
# hcidp/keys (Generate + WriteFiles).

set -euo pipefail

usage() {
	cat <<'EOF'
Usage: scripts/gen-certs.sh [--out DIR] [--bits N] [--cn NAME] [--days N] [--force]

  --out DIR    output directory (default: certs)
  --bits N     RSA key size: 2048, 3072 or 4096 (default: 3072)
  --cn NAME    certificate common name (default: hcidp); the CA gets "NAME CA"
  --days N     IdP certificate validity in days (default: 1095)
  --force      replace existing ca.key, ca.crt, idp.key and idp.crt
  -h, --help   show this help
EOF
}

die() {
	printf 'gen-certs.sh: %s\n' "$*" >&2
	exit 1
}

out=certs
bits=3072
cn=hcidp
days=1095
force=0

while (($# > 0)); do
	case "$1" in
	--out)
		(($# >= 2)) || die "--out needs a directory"
		out=$2
		shift 2
		;;
	--out=*)
		out=${1#*=}
		shift
		;;
	--bits)
		(($# >= 2)) || die "--bits needs a number"
		bits=$2
		shift 2
		;;
	--bits=*)
		bits=${1#*=}
		shift
		;;
	--cn)
		(($# >= 2)) || die "--cn needs a name"
		cn=$2
		shift 2
		;;
	--cn=*)
		cn=${1#*=}
		shift
		;;
	--days)
		(($# >= 2)) || die "--days needs a number"
		days=$2
		shift 2
		;;
	--days=*)
		days=${1#*=}
		shift
		;;
	--force)
		force=1
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		usage >&2
		die "unknown argument: $1"
		;;
	esac
done

case "$bits" in
2048 | 3072 | 4096) ;;
*) die "--bits must be 2048, 3072 (recommended) or 4096, not '$bits'" ;;
esac
[[ "$days" =~ ^[1-9][0-9]{0,4}$ ]] && ((days <= 36500)) ||
	die "--days must be a whole number of days between 1 and 36500, not '$days'"
# Keep the name safe inside openssl's -subj syntax (/ and = are separators).
[[ "$cn" =~ ^[A-Za-z0-9][A-Za-z0-9._\ -]{0,59}$ ]] ||
	die "--cn must be 1-60 characters: letters, digits, space, '.', '_' or '-', starting with a letter or digit"
[[ -n "$out" ]] || die "--out must not be empty"

command -v openssl >/dev/null 2>&1 || die "openssl is not installed (e.g. apt-get install openssl)"

files=(idp.key idp.crt ca.key ca.crt)
if ((force == 0)); then
	for f in "${files[@]}"; do
		if [[ -e "$out/$f" || -L "$out/$f" ]]; then
			die "$out/$f already exists; refusing to overwrite it (use --force to replace it)"
		fi
	done
fi

# Everything below is created private; public files are opened up explicitly.
umask 077
if [[ ! -d "$out" ]]; then
	mkdir -p -- "$out"
	chmod 0700 -- "$out"
fi

work=$(mktemp -d "$out/.gen-certs.XXXXXX")
cleanup() { rm -rf -- "$work"; }
trap cleanup EXIT

# A self-contained configuration, so the result does not depend on the
# system's openssl.cnf.
cat >"$work/openssl.cnf" <<'EOF'
[ req ]
distinguished_name = req_dn
prompt             = no

[ req_dn ]

[ v3_ca ]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_idp ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid, issuer
EOF

ossl() {
	openssl "$@" 2>"$work/openssl.err" || {
		cat "$work/openssl.err" >&2
		die "openssl $1 failed"
	}
}

echo "gen-certs.sh: generating $bits-bit CA key and certificate (CN=$cn CA)" >&2
# 1. CA key pair.
ossl genrsa -out "$work/ca.key" "$bits"
# 2. Self-signed CA certificate; one day longer than the IdP certificate so
#    the chain stays valid for the IdP certificate's whole lifetime.
ossl req -new -x509 -config "$work/openssl.cnf" -extensions v3_ca -sha256 \
	-key "$work/ca.key" -subj "/CN=$cn CA" -days "$((days + 1))" \
	-set_serial "0x$(openssl rand -hex 16)" -out "$work/ca.crt"

echo "gen-certs.sh: generating $bits-bit IdP key and certificate (CN=$cn), valid $days days" >&2
# 3. IdP key pair.
ossl genrsa -out "$work/idp.key" "$bits"
# 4. Certificate signing request.
ossl req -new -config "$work/openssl.cnf" -sha256 \
	-key "$work/idp.key" -subj "/CN=$cn" -out "$work/idp.csr"
# 5. IdP certificate signed by the CA.
ossl x509 -req -in "$work/idp.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" \
	-set_serial "0x$(openssl rand -hex 16)" -days "$days" -sha256 \
	-extfile "$work/openssl.cnf" -extensions v3_idp -out "$work/idp.crt"
rm -f -- "$work/idp.csr"

chmod 0600 -- "$work/ca.key" "$work/idp.key"
chmod 0644 -- "$work/ca.crt" "$work/idp.crt"

# Move into place; each rename is atomic (the files are in the same directory).
for f in ca.key ca.crt idp.crt idp.key; do
	mv -f -- "$work/$f" "$out/$f"
done

echo "gen-certs.sh: wrote $out/ca.key (0600), $out/ca.crt, $out/idp.key (0600), $out/idp.crt" >&2
echo "gen-certs.sh: keep ca.key offline; hcidp needs only idp.key and idp.crt" >&2
