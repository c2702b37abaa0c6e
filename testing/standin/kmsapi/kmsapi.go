// Package kmsapi is test scaffolding: a stand-in for the AWS KMS JSON API (TrentService) with the three calls
// the Pulumi CLI's awskms secrets provider makes (Encrypt, GenerateDataKey, Decrypt), over one AES-GCM key per
// alias, counting each call per alias. The CLI reaches it through AWS_ENDPOINT_URL_KMS with a provider URL that
// asks for aws-sdk-go-v2 (awskms://alias/<name>?region=<r>&awssdk=v2), which honours that variable.
package kmsapi

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// Server answers KMS calls for the keys its aliases name. Aliases is fixed once it serves.
type Server struct {
	// Aliases are the key aliases that exist, such as alias/appstack-secrets-staging. Required.
	Aliases []string

	once  sync.Once
	keys  map[string]cipher.AEAD
	mu    sync.Mutex
	calls map[string]int
	err   error
}

func (s *Server) init() {
	s.keys = map[string]cipher.AEAD{}
	s.calls = map[string]int{}
	for _, alias := range s.Aliases {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			s.err = err
			return
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			s.err = err
			return
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			s.err = err
			return
		}
		s.keys[alias] = aead
	}
}

// Calls is how many times op (Encrypt, GenerateDataKey, Decrypt) succeeded with the key of alias.
func (s *Server) Calls(op, alias string) int {
	s.once.Do(s.init)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op+" "+alias]
}

// AliasOf is the alias of the key that encrypted blob, a ciphertext this server made, or "" when it made none.
func (s *Server) AliasOf(blob []byte) string {
	s.once.Do(s.init)
	if len(blob) < 1 || int(blob[0]) >= len(s.Aliases) {
		return ""
	}
	return s.Aliases[blob[0]]
}

// ServeHTTP answers one KMS call. A ciphertext names its key's alias in the clear, as a real KMS ciphertext
// blob carries its key's identity, so Decrypt needs no KeyId.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.once.Do(s.init)
	fail := func(status int, typ, msg string) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
	}
	if s.err != nil {
		fail(http.StatusInternalServerError, "KMSInternalException", s.err.Error())
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		fail(http.StatusBadRequest, "MissingAuthenticationTokenException", "Missing Authentication Token")
		return
	}
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")
	var req struct {
		KeyID          string `json:"KeyId"`
		Plaintext      []byte `json:"Plaintext"`
		CiphertextBlob []byte `json:"CiphertextBlob"`
		NumberOfBytes  int    `json:"NumberOfBytes"`
		KeySpec        string `json:"KeySpec"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	reply := map[string]any{"EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}
	var alias string
	switch op {
	case "Encrypt", "GenerateDataKey":
		alias = req.KeyID
		aead, ok := s.keys[alias]
		if !ok {
			fail(http.StatusBadRequest, "NotFoundException", fmt.Sprintf("Alias %s is not found.", req.KeyID))
			return
		}
		plain := req.Plaintext
		if op == "GenerateDataKey" {
			n := req.NumberOfBytes
			if req.KeySpec == "AES_256" || n == 0 {
				n = 32
			}
			plain = make([]byte, n)
			_, _ = rand.Read(plain)
			reply["Plaintext"] = plain
		}
		nonce := make([]byte, aead.NonceSize())
		_, _ = rand.Read(nonce)
		blob := append([]byte{byte(slices.Index(s.Aliases, alias))}, nonce...)
		reply["CiphertextBlob"] = aead.Seal(blob, nonce, plain, []byte(alias))
	case "Decrypt":
		blob := req.CiphertextBlob
		if len(blob) < 1 || int(blob[0]) >= len(s.Aliases) {
			fail(http.StatusBadRequest, "InvalidCiphertextException", "")
			return
		}
		alias = s.Aliases[blob[0]]
		aead := s.keys[alias]
		ns := aead.NonceSize()
		if len(blob) < 1+ns {
			fail(http.StatusBadRequest, "InvalidCiphertextException", "")
			return
		}
		plain, err := aead.Open(nil, blob[1:1+ns], blob[1+ns:], []byte(alias))
		if err != nil {
			fail(http.StatusBadRequest, "InvalidCiphertextException", "")
			return
		}
		if req.KeyID != "" && req.KeyID != alias {
			fail(http.StatusBadRequest, "IncorrectKeyException",
				"The key ID in the request does not identify a CMK that can perform this operation.")
			return
		}
		reply["Plaintext"] = plain
	default:
		fail(http.StatusBadRequest, "UnknownOperationException", "")
		return
	}
	reply["KeyId"] = alias
	s.mu.Lock()
	s.calls[op+" "+alias]++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(reply)
}
