package ssmstore

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Server answers the SSM JSON API (awsJson1_1, X-Amz-Target AmazonSSM.<operation>, as aws-sdk-go-v2
// service/ssm v1.60.0 sends it) from Store for the two operations a fleet deploy calls: GetParametersByPath, in
// pages of at most 10 (MaxResults 1-10, API_GetParametersByPath), and DeleteParameters, of at most 10 names
// (API_DeleteParameters), answering with the names it deleted and those it did not find. It is not SSM.
type Server struct {
	Store *Store
}

type parameterJSON struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
	Type  string `json:"Type"`
}

// ServeHTTP answers one request, signed (any SigV4 header), or an error as SSM reports it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
	}
	reply := func(v any) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(v)
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		fail(400, "MissingAuthenticationTokenException", "Request is missing Authentication Token")
		return
	}
	var in struct {
		Path       string   `json:"Path"`
		MaxResults *int     `json:"MaxResults"`
		NextToken  string   `json:"NextToken"`
		Names      []string `json:"Names"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		fail(400, "SerializationException", err.Error())
		return
	}
	switch op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonSSM."); op {
	case "GetParametersByPath":
		n := 10
		if in.MaxResults != nil {
			n = *in.MaxResults
		}
		if n < 1 || n > 10 {
			fail(400, "ValidationException", fmt.Sprintf("1 validation error detected: Value '%d' at "+
				"'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10", n))
			return
		}
		st, err := s.Store.Read()
		if err != nil {
			fail(500, "InternalServerError", err.Error())
			return
		}
		var names []string
		for name := range st.Parameters {
			// Not recursive: only the parameters one level below the path.
			if rest, ok := strings.CutPrefix(name, strings.TrimSuffix(in.Path, "/")+"/"); ok && !strings.Contains(rest, "/") {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		start, _ := strconv.Atoi(in.NextToken)
		start = min(start, len(names))
		out := struct {
			Parameters []parameterJSON `json:"Parameters"`
			NextToken  string          `json:"NextToken,omitempty"`
		}{Parameters: []parameterJSON{}}
		for _, name := range names[start:min(start+n, len(names))] {
			out.Parameters = append(out.Parameters, parameterJSON{Name: name, Value: st.Parameters[name], Type: "String"})
		}
		if start+n < len(names) {
			out.NextToken = strconv.Itoa(start + n)
		}
		reply(out)
	case "DeleteParameters":
		if len(in.Names) < 1 || len(in.Names) > 10 {
			fail(400, "ValidationException", fmt.Sprintf("1 validation error detected: Value at 'names' failed to "+
				"satisfy constraint: Member must have length less than or equal to 10 (%d)", len(in.Names)))
			return
		}
		out := struct {
			DeletedParameters []string `json:"DeletedParameters"`
			InvalidParameters []string `json:"InvalidParameters"`
		}{DeletedParameters: []string{}, InvalidParameters: []string{}}
		err := s.Store.Update(func(st *State) error {
			for _, name := range in.Names {
				if _, ok := st.Parameters[name]; ok {
					delete(st.Parameters, name)
					out.DeletedParameters = append(out.DeletedParameters, name)
				} else {
					out.InvalidParameters = append(out.InvalidParameters, name)
				}
			}
			return nil
		})
		if err != nil {
			fail(500, "InternalServerError", err.Error())
			return
		}
		reply(out)
	default:
		fail(400, "UnknownOperationException", "unknown operation "+op)
	}
}
