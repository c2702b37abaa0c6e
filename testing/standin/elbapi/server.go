package elbapi

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"appstack/components/readiness"
	"appstack/testing/standin/asgapi"
)

// xmlns is the Elastic Load Balancing v2 query API's namespace, as aws-sdk-go-v2 service/elasticloadbalancingv2
// v1.49.0 deserializes it (awsxml).
const xmlns = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"

// Server answers DescribeTargetHealth from Store.
type Server struct {
	Store *Store
	// Fleet is the Auto Scaling stand-in's state, whose groups register their hosts in their target groups
	// (FleetHealth). Optional.
	Fleet *asgapi.Store
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Serves says whether instance id answers path on port: it runs, its boot ended ready, the boot waited on port,
// and path is one the boot found answering there (any path for a host recorded without paths).
func Serves(st *State) ServesFunc {
	return func(id string, port int, path string) bool {
		h, ok := st.Hosts[id]
		if !ok || !h.Ready || !containsInt(h.Ports, port) {
			return false
		}
		paths, known := h.Paths[port]
		return !known || path == "" || slices.Contains(paths, path)
	}
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

type targetXML struct {
	ID   string `xml:"Id"`
	Port int    `xml:"Port"`
}

type healthXML struct {
	State       string `xml:"State"`
	Reason      string `xml:"Reason,omitempty"`
	Description string `xml:"Description,omitempty"`
}

type descriptionXML struct {
	Target          targetXML `xml:"Target"`
	HealthCheckPort string    `xml:"HealthCheckPort"`
	TargetHealth    healthXML `xml:"TargetHealth"`
}

type resultXML struct {
	XMLName      xml.Name         `xml:"DescribeTargetHealthResult"`
	Descriptions []descriptionXML `xml:"TargetHealthDescriptions>member"`
}

// ServeHTTP answers one query API request: DescribeTargetHealth, signed (any SigV4 header), or an error as
// Elastic Load Balancing reports it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, msg string) {
		var m strings.Builder
		_ = xml.EscapeText(&m, []byte(msg))
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>`,
			xmlns, code, m.String())
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		fail(403, "MissingAuthenticationToken", "Request is missing Authentication Token")
		return
	}
	if err := r.ParseForm(); err != nil {
		fail(400, "ValidationError", err.Error())
		return
	}
	form := r.PostForm
	if form.Get("Action") != "DescribeTargetHealth" || form.Get("Version") != "2015-12-01" {
		fail(400, "InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", form.Get("Action"),
			form.Get("Version")))
		return
	}
	st, err := s.Store.Load()
	if err != nil {
		fail(500, "InternalFailure", err.Error())
		return
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	tg, ok := st.TargetGroups[form.Get("TargetGroupArn")]
	if !ok || tg.Name == "" {
		fail(400, "TargetGroupNotFound", fmt.Sprintf("Target groups '%s' not found", form.Get("TargetGroupArn")))
		return
	}
	var fleet *asgapi.State
	if s.Fleet != nil {
		if fleet, err = s.Fleet.Load(); err != nil {
			fail(500, "InternalFailure", err.Error())
			return
		}
	}
	var asked []targetXML
	for i := 1; form.Get(fmt.Sprintf("Targets.member.%d.Id", i)) != ""; i++ {
		port, _ := strconv.Atoi(form.Get(fmt.Sprintf("Targets.member.%d.Port", i)))
		asked = append(asked, targetXML{ID: form.Get(fmt.Sprintf("Targets.member.%d.Id", i)), Port: port})
	}
	if len(asked) == 0 {
		for _, t := range tg.Targets {
			asked = append(asked, targetXML{ID: t.ID, Port: t.Port})
		}
		for _, id := range registeredByFleet(fleet, tg.ARN) {
			asked = append(asked, targetXML{ID: id, Port: tg.Port})
		}
	}
	serves := Serves(st)
	res := resultXML{}
	for _, a := range asked {
		if a.Port == 0 {
			a.Port = tg.Port
		}
		d := descriptionXML{Target: a, HealthCheckPort: strconv.Itoa(a.Port),
			TargetHealth: healthXML{State: "unused", Reason: "Target.NotRegistered",
				Description: "Target is not registered to the target group"}}
		for _, t := range tg.Targets {
			if t.ID == a.ID && t.Port == a.Port {
				state, reason, _ := st.Health(tg.ARN, t, now, serves)
				d.TargetHealth = healthXML{State: state, Reason: reason}
			}
		}
		if state, reason, ok := st.FleetHealth(fleet, tg, a.ID, a.Port); ok {
			d.TargetHealth = healthXML{State: state, Reason: reason}
		}
		res.Descriptions = append(res.Descriptions, d)
	}
	raw, err := xml.Marshal(res)
	if err != nil {
		fail(500, "InternalFailure", err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	_, _ = fmt.Fprintf(w, `<DescribeTargetHealthResponse xmlns="%s">%s<ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata></DescribeTargetHealthResponse>`,
		xmlns, raw)
}

// registeredByFleet are the hosts the fleet's groups registered in the target group arn.
func registeredByFleet(fleet *asgapi.State, arn string) []string {
	if fleet == nil {
		return nil
	}
	var out []string
	for _, g := range fleet.Groups {
		if slices.Contains(g.TargetGroupARNs, arn) {
			for _, i := range g.Instances {
				out = append(out, i.ID)
			}
		}
	}
	return out
}

// FleetHealth is the state of a group's host in one of its target groups, as Elastic Load Balancing reports a
// target Auto Scaling registered: a group registers its hosts in its target groups as it launches them, on the
// group's port, and deregisters them as it terminates them (API_LoadBalancerTargetGroupState: "Adding - The Auto
// Scaling instances are being registered with the target group"). A Pending host is still registering; an
// InService one is "healthy" once its boot ended ready and its health checks pass, "unhealthy" once they
// failed. ok is false when no group of fleet registered id in tg on port.
func (st *State) FleetHealth(fleet *asgapi.State, tg *TargetGroup, id string, port int) (state, reason string,
	ok bool) {
	if fleet == nil || port != tg.Port {
		return "", "", false
	}
	for _, g := range fleet.Groups {
		if !slices.Contains(g.TargetGroupARNs, tg.ARN) {
			continue
		}
		for _, i := range g.Instances {
			if i.ID != id {
				continue
			}
			switch {
			case !st.InUse(tg.ARN):
				return "unused", "Target.NotInUse", true
			case i.Lifecycle == asgapi.Pending:
				return "initial", "Elb.RegistrationInProgress", true
			case i.Health == asgapi.Healthy && strings.HasPrefix(i.Outcome, readiness.Ready):
				return "healthy", "", true
			}
			return "unhealthy", "Target.ResponseCodeMismatch", true
		}
	}
	return "", "", false
}
