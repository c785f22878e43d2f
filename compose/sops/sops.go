package sops

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/berth-gitops/berth/compose/budget"
)

// berth reads files made by the sops CLI (github.com/getsops/sops) with age
// keys only, rather than linking the sops library: that library brings the
// AWS, GCP, Azure, Vault and Huawei SDKs and triples the binary. The format
// is small and stable since sops 3.0:
//
//   - a random 256-bit data key, encrypted to each age recipient as an
//     armored age file in sops.age[].enc;
//   - every value (unless the metadata's suffix or regex rules leave it in
//     clear) encrypted with AES-256-GCM under the data key, written as
//     ENC[AES256_GCM,data:…,iv:…,tag:…,type:str|int|float|bool|bytes|time|comment],
//     with the value's key path joined by ":" plus a trailing ":" as the
//     additional data, so a value moved to another key does not decrypt;
//   - a MAC: SHA-512 over the plaintext values in document order (comments
//     left out; with mac_only_encrypted, only the encrypted values, after a
//     fixed prefix), hex upper-case, encrypted like a value with the
//     lastmodified timestamp as additional data. A file whose MAC does not
//     match, or does not decrypt, is refused: someone removed, reordered or
//     replaced values.
//
// Each store keeps the tree its own way: YAML (several documents allowed)
// and JSON under a top-level `sops` key; dotenv as KEY=VALUE lines, with the
// metadata flattened into sops_* keys (sops_age__list_0__map_enc); any other
// file ("binary") as JSON {"data": "<the whole file>", "sops": {…}}. Which
// store a file uses follows from its name, as for the sops CLI.

// Store is how sops keeps a file.
type Store int

// The stores, as the sops CLI names them.
const (
	Binary Store = iota
	Dotenv
	YAML
	JSON
	INI
)

// StoreOf picks the store by extension, as sops's FormatForPath does.
func StoreOf(path string) Store {
	switch {
	case strings.HasSuffix(path, ".yaml"), strings.HasSuffix(path, ".yml"):
		return YAML
	case strings.HasSuffix(path, ".json"):
		return JSON
	case strings.HasSuffix(path, ".env"):
		return Dotenv
	case strings.HasSuffix(path, ".ini"):
		return INI
	}
	return Binary
}

// sopsMacOnlyEncryptedInit starts the MAC of a file with mac_only_encrypted,
// so that it never equals the MAC over all values (sops.MACOnlyEncryptedInitialization).
var sopsMacOnlyEncryptedInit = []byte{0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0xb, 0xb, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69}

// sopsMap is a mapping in document order; values are string, int, float64,
// bool, time.Time, nil, sopsMap or []any.
type sopsMap []sopsItem

type sopsItem struct {
	key   string
	value any
}

func (m sopsMap) get(key string) (any, bool) {
	for _, it := range m {
		if it.key == key {
			return it.value, true
		}
	}
	return nil, false
}

// sopsComment is a value whose type says it was a comment: left out of the
// MAC and of the output.
type sopsComment struct{}

// Doc is a parsed sops file.
type Doc struct {
	Store    Store
	branches []sopsMap // YAML documents; one for the other stores
	meta     sopsMeta
}

// sopsMeta is what berth needs of the metadata.
type sopsMeta struct {
	age               []sopsAgeKey
	others            []string // key types berth cannot use (pgp, kms, ...)
	lastModified      string   // as the additional data of the MAC
	mac               string
	unencryptedSuffix string
	encryptedSuffix   string
	unencryptedRegex  *regexp.Regexp
	encryptedRegex    *regexp.Regexp
	macOnlyEncrypted  bool
}

type sopsAgeKey struct{ recipient, enc string }

// Parse reads a sops file of path's store; it fails when data is not one.
func Parse(path string, data []byte) (*Doc, error) {
	d, meta, err := parseSopsTree(path, data)
	if err != nil {
		return nil, err
	}
	if meta == nil {
		return nil, errors.New("not a sops file: no sops metadata")
	}
	if d.Store == Binary {
		if _, ok := d.branches[0].get("data"); !ok {
			return nil, errors.New(`not a sops binary file: no "data" key`)
		}
	}
	if d.meta, err = parseSopsMeta(meta); err != nil {
		return nil, fmt.Errorf("sops metadata: %w", err)
	}
	return d, nil
}

// parseSopsTree reads the document and its metadata tree, nil when there
// is none.
func parseSopsTree(path string, data []byte) (*Doc, sopsMap, error) {
	d := &Doc{Store: StoreOf(path)}
	var (
		m, meta sopsMap
		err     error
	)
	switch d.Store {
	case YAML:
		if err := budget.Check(filepath.Base(path), data, budget.Data); err != nil {
			return nil, nil, err
		}
		d.branches, meta, err = parseSopsYAML(data)
		return d, meta, err
	case JSON, Binary:
		m, meta, err = parseSopsJSON(data)
	case Dotenv:
		m, meta, err = parseSopsDotenv(data)
	default:
		return nil, nil, errors.New("sops INI files are not supported; use dotenv, YAML, JSON or binary")
	}
	d.branches = []sopsMap{m}
	return d, meta, err
}

// IsFile reports whether data has sops metadata with a MAC, valid or
// not: such a file is decrypted, or refused, never used as it is.
func IsFile(path string, data []byte) bool {
	if !bytes.Contains(data, []byte("sops")) {
		return false
	}
	_, meta, err := parseSopsTree(path, data)
	if err != nil || meta == nil {
		return false
	}
	_, ok := meta.get("mac")
	return ok
}

func parseSopsMeta(m sopsMap) (sopsMeta, error) {
	var md sopsMeta
	str := func(key string) string {
		v, _ := m.get(key)
		switch v := v.(type) {
		case string:
			return v
		case time.Time:
			return v.Format(time.RFC3339)
		case nil:
			return ""
		}
		return fmt.Sprint(v)
	}
	for _, k := range []string{"unencrypted_comment_regex", "encrypted_comment_regex"} {
		if str(k) != "" {
			return md, fmt.Errorf("%s is not supported", k)
		}
	}
	md.mac = str("mac")
	if md.mac == "" {
		return md, errors.New("no mac")
	}
	lm, err := time.Parse(time.RFC3339, str("lastmodified"))
	if err != nil {
		return md, fmt.Errorf("lastmodified: %q is not an RFC 3339 time", str("lastmodified"))
	}
	md.lastModified = lm.Format(time.RFC3339)
	md.unencryptedSuffix = str("unencrypted_suffix")
	md.encryptedSuffix = str("encrypted_suffix")
	for _, r := range []struct {
		key string
		dst **regexp.Regexp
	}{{"unencrypted_regex", &md.unencryptedRegex}, {"encrypted_regex", &md.encryptedRegex}} {
		if s := str(r.key); s != "" {
			if *r.dst, err = regexp.Compile(s); err != nil {
				return md, fmt.Errorf("%s: %w", r.key, err)
			}
		}
	}
	switch v, _ := m.get("mac_only_encrypted"); v := v.(type) {
	case bool:
		md.macOnlyEncrypted = v
	case string:
		md.macOnlyEncrypted, _ = strconv.ParseBool(v)
	}
	groups := []sopsMap{m}
	if kg, ok := m.get("key_groups"); ok {
		list, _ := kg.([]any)
		if len(list) > 1 {
			return md, errors.New("key_groups with shamir_threshold are not supported: use one group of age keys")
		}
		if len(list) == 1 {
			g, _ := list[0].(sopsMap)
			groups = []sopsMap{g}
		}
	}
	for _, g := range groups {
		for _, it := range g {
			list, ok := it.value.([]any)
			if !ok || len(list) == 0 {
				continue
			}
			if it.key != "age" {
				md.others = append(md.others, it.key)
				continue
			}
			for _, e := range list {
				k, _ := e.(sopsMap)
				rec, _ := k.get("recipient")
				enc, _ := k.get("enc")
				r, _ := rec.(string)
				s, _ := enc.(string)
				md.age = append(md.age, sopsAgeKey{recipient: r, enc: s})
			}
		}
	}
	return md, nil
}

// dataKey opens the data key with the first identity that can.
func (d *Doc) dataKey(ids []age.Identity) ([]byte, error) {
	if len(d.meta.age) == 0 {
		if len(d.meta.others) > 0 {
			return nil, fmt.Errorf("encrypted only for %s keys; berth decrypts with age keys", strings.Join(d.meta.others, ", "))
		}
		return nil, errors.New("no age recipient in the sops metadata")
	}
	var recipients []string
	for _, k := range d.meta.age {
		recipients = append(recipients, k.recipient)
		r, err := age.Decrypt(armor.NewReader(strings.NewReader(k.enc)), ids...)
		if err != nil {
			continue
		}
		key, err := io.ReadAll(io.LimitReader(r, 64))
		if err == nil && len(key) == 32 {
			return key, nil
		}
	}
	return nil, fmt.Errorf("no age key given can decrypt it (its recipients: %s)", strings.Join(recipients, ", "))
}

// Decrypt replaces every encrypted value with its plaintext and checks the
// MAC. Errors never hold a value.
func (d *Doc) Decrypt(ids []age.Identity) error {
	key, err := d.dataKey(ids)
	if err != nil {
		return err
	}
	w := sopsWalker{meta: &d.meta, key: key, mac: sha512.New()}
	if d.meta.macOnlyEncrypted {
		w.mac.Write(sopsMacOnlyEncryptedInit)
	}
	for i, b := range d.branches {
		v, err := w.walk(b, nil)
		if err != nil {
			return err
		}
		d.branches[i] = v.(sopsMap)
	}
	stored, typ, err := decryptSopsValue(d.meta.mac, key, d.meta.lastModified)
	if err != nil || typ != "str" {
		return errors.New("MAC does not decrypt: the file was altered, or not made for this key")
	}
	computed := fmt.Sprintf("%X", w.mac.Sum(nil))
	if subtle.ConstantTimeCompare([]byte(stored), []byte(computed)) != 1 {
		return errors.New("MAC mismatch: the file was altered after sops wrote it")
	}
	return nil
}

type sopsWalker struct {
	meta *sopsMeta
	key  []byte
	mac  hash.Hash
}

func (w *sopsWalker) walk(v any, path []string) (any, error) {
	switch v := v.(type) {
	case sopsMap:
		out := v[:0:0]
		for _, it := range v {
			nv, err := w.walk(it.value, append(path[:len(path):len(path)], it.key))
			if err != nil {
				return nil, err
			}
			if _, skip := nv.(sopsComment); !skip {
				out = append(out, sopsItem{it.key, nv})
			}
		}
		return out, nil
	case []any:
		out := v[:0:0]
		for _, e := range v {
			nv, err := w.walk(e, path)
			if err != nil {
				return nil, err
			}
			if _, skip := nv.(sopsComment); !skip {
				out = append(out, nv)
			}
		}
		return out, nil
	case nil:
		return nil, nil
	}
	return w.leaf(v, path)
}

func (w *sopsWalker) leaf(v any, path []string) (any, error) {
	where := strings.Join(path, ".")
	encrypted := w.meta.shouldEncrypt(path)
	if encrypted {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("value at %s should be encrypted and is not", where)
		}
		plain, typ, err := decryptSopsValue(s, w.key, strings.Join(path, ":")+":")
		if err != nil {
			return nil, fmt.Errorf("value at %s: %w", where, err)
		}
		if typ == "comment" {
			return sopsComment{}, nil
		}
		if v, err = typedSopsValue(plain, typ); err != nil {
			return nil, fmt.Errorf("value at %s: %w", where, err)
		}
	}
	if !w.meta.macOnlyEncrypted || encrypted {
		b, err := sopsBytes(v)
		if err != nil {
			return nil, fmt.Errorf("value at %s: %w", where, err)
		}
		w.mac.Write(b)
	}
	return v, nil
}

// shouldEncrypt mirrors sops's Tree.shouldBeEncrypted without the comment
// rules, which parseSopsMeta refuses.
func (m *sopsMeta) shouldEncrypt(path []string) bool {
	enc := true
	if m.unencryptedSuffix != "" {
		for _, p := range path {
			if strings.HasSuffix(p, m.unencryptedSuffix) {
				enc = false
				break
			}
		}
	}
	if m.encryptedSuffix != "" {
		enc = false
		for _, p := range path {
			if strings.HasSuffix(p, m.encryptedSuffix) {
				enc = true
				break
			}
		}
	}
	if m.unencryptedRegex != nil {
		for _, p := range path {
			if m.unencryptedRegex.MatchString(p) {
				enc = false
				break
			}
		}
	}
	if m.encryptedRegex != nil {
		enc = false
		for _, p := range path {
			if m.encryptedRegex.MatchString(p) {
				enc = true
				break
			}
		}
	}
	return enc
}

var sopsValueRe = regexp.MustCompile(`^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]`)

// decryptSopsValue opens one ENC[…] value; "" stays "" as in sops.
func decryptSopsValue(s string, key []byte, aad string) (string, string, error) {
	if s == "" {
		return "", "str", nil
	}
	m := sopsValueRe.FindStringSubmatch(s)
	if m == nil {
		return "", "", errors.New("not an ENC[AES256_GCM,…] value")
	}
	var parts [3][]byte
	for i := range parts {
		b, err := base64.StdEncoding.DecodeString(m[i+1])
		if err != nil {
			return "", "", errors.New("bad base64 in ENC[…]")
		}
		parts[i] = b
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", "", err
	}
	if len(parts[1]) == 0 {
		return "", "", errors.New("empty iv in ENC[…]")
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, len(parts[1]))
	if err != nil {
		return "", "", err
	}
	plain, err := gcm.Open(nil, parts[1], append(parts[0], parts[2]...), []byte(aad))
	if err != nil {
		return "", "", errors.New("does not decrypt (altered, moved to another key, or another data key)")
	}
	return string(plain), m[4], nil
}

// typedSopsValue turns a plaintext back into the value sops encrypted.
func typedSopsValue(plain, typ string) (any, error) {
	switch typ {
	case "str", "bytes":
		return plain, nil
	case "int":
		return strconv.Atoi(plain)
	case "float":
		return strconv.ParseFloat(plain, 64)
	case "bool":
		return strconv.ParseBool(plain)
	case "time":
		var t time.Time
		err := t.UnmarshalText([]byte(plain))
		return t, err
	}
	return nil, fmt.Errorf("unknown sops type %q", typ)
}

// sopsBytes is a value as the MAC sees it (sops.ToBytes).
func sopsBytes(v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return []byte(v), nil
	case int:
		return []byte(strconv.Itoa(v)), nil
	case float64:
		return []byte(strconv.FormatFloat(v, 'f', -1, 64)), nil
	case bool:
		if v {
			return []byte("True"), nil
		}
		return []byte("False"), nil
	case time.Time:
		return v.MarshalText()
	}
	return nil, fmt.Errorf("unsupported value type %T", v)
}

// ReadAgeIdentities reads an age identity file: AGE-SECRET-KEY-1… lines
// (and post-quantum AGE-SECRET-KEY-PQ-1…), blank lines and # comments, as
// age-keygen writes it and as sops reads SOPS_AGE_KEY_FILE. Errors name the
// file and a line number, never a key.
func ReadAgeIdentities(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("age key file: %w", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("age key file %s: %w", path, err)
	}
	return ids, nil
}

// decryptSops decrypts a file made by the sops CLI and returns what
// `sops decrypt` prints for it.
func decryptSops(path string, data []byte, ids []age.Identity) ([]byte, error) {
	d, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	if err := d.Decrypt(ids); err != nil {
		return nil, err
	}
	return d.Plaintext()
}

// Strings calls fn with every string value of the decrypted document.
func (d *Doc) Strings(fn func(string)) {
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case sopsMap:
			for _, it := range v {
				walk(it.value)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case string:
			fn(v)
		}
	}
	for _, b := range d.branches {
		walk(b)
	}
}

// Named reports whether a file is named as a sops file (app.sops.env,
// db.sops.yaml, .sops.env), which must then be one. .sops.yaml itself is
// the sops CLI's config file.
func Named(path string) bool {
	base := filepath.Base(path)
	if base == ".sops.yaml" || base == ".sops.yml" {
		return false
	}
	return strings.Contains(base, ".sops.") || strings.HasSuffix(base, ".sops")
}
