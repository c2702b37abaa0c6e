package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"appstack/internal/offline"
	"appstack/testing/standin/asgapi"
)

// The fleet's resources, kept in the state file the Auto Scaling stand-in (asgapi) shares
// (APPSTACK_STANDIN_FLEET): launch templates with a version per change of their launch data, groups that
// launch and boot their instances, their scaling policies and notifications, and aws:autoscaling/getGroup.
// Each answers as terraform-provider-aws (under pulumi-aws) would; the sources are named where it matters.

const (
	launchTemplate = "aws:ec2/launchTemplate:LaunchTemplate"
	asGroup        = "aws:autoscaling/group:Group"
	asPolicy       = "aws:autoscaling/policy:Policy"
	asNotification = "aws:autoscaling/notification:Notification"
	getGroup       = "aws:autoscaling/getGroup:getGroup"
)

func isFleet(typ string) bool {
	return slices.Contains([]string{launchTemplate, asGroup, asPolicy, asNotification}, typ)
}

// templateMeta are the launch template's arguments that are no launch data: changing them makes no new version
// (terraform-provider-aws ec2/launch_template.go updates a version only when launch data changes).
var templateMeta = []resource.PropertyKey{"tags", "tagsAll", "description", "updateDefaultVersion",
	"defaultVersion", "name", "namePrefix", "region"}

func templateVersion(in resource.PropertyMap) asgapi.TemplateVersion {
	return asgapi.TemplateVersion{UserData: strProp(in, "userData"), ImageID: strProp(in, "imageId"),
		InstanceType: strProp(in, "instanceType")}
}

func launchDataChanged(olds, news resource.PropertyMap) bool {
	for _, k := range keys(olds, news) {
		if !slices.Contains(templateMeta, k) && !olds[k].DeepEquals(news[k]) {
			return true
		}
	}
	return false
}

func boolProp(m resource.PropertyMap, k string) bool {
	v := m[resource.PropertyKey(k)]
	return v.IsBool() && v.BoolValue()
}

func intProp(m resource.PropertyMap, k string) (int, bool) {
	v := m[resource.PropertyKey(k)]
	switch {
	case v.IsNumber():
		return int(v.NumberValue()), true
	case v.IsString():
		n, err := strconv.Atoi(v.StringValue())
		return n, err == nil
	}
	return 0, false
}

func objProp(m resource.PropertyMap, k string) resource.PropertyMap {
	v := m[resource.PropertyKey(k)]
	if v.IsObject() {
		return v.ObjectValue()
	}
	return resource.PropertyMap{}
}

func listProp(m resource.PropertyMap, k string) []resource.PropertyValue {
	v := m[resource.PropertyKey(k)]
	if v.IsArray() {
		return v.ArrayValue()
	}
	return nil
}

func stringsProp(m resource.PropertyMap, k string) []string {
	var out []string
	for _, v := range listProp(m, k) {
		if v.IsString() {
			out = append(out, v.StringValue())
		}
	}
	return out
}

// physicalName is the name input, or the name Pulumi would have given (<logical name>-<7 hex>).
func physicalName(u resource.URN, in resource.PropertyMap) string {
	if n := strProp(in, "name"); n != "" {
		return n
	}
	return u.Name() + "-" + hashOf(string(u.Type()), u.Name())[:7]
}

// groupConfig is what the group's inputs launch: its mixed instances policy, or its launch template.
func groupConfig(in resource.PropertyMap) asgapi.Config {
	if mip := objProp(in, "mixedInstancesPolicy"); len(mip) > 0 {
		lt := objProp(mip, "launchTemplate")
		spec := objProp(lt, "launchTemplateSpecification")
		c := asgapi.Config{TemplateID: strProp(spec, "launchTemplateId"),
			TemplateName: strProp(spec, "launchTemplateName"), Version: strProp(spec, "version"), Mixed: true}
		if n, ok := intProp(spec, "version"); ok {
			c.Version = strconv.Itoa(n)
		}
		for _, o := range listProp(lt, "overrides") {
			if o.IsObject() {
				c.InstanceTypes = append(c.InstanceTypes, strProp(o.ObjectValue(), "instanceType"))
			}
		}
		dist := objProp(mip, "instancesDistribution")
		c.OnDemandBase, _ = intProp(dist, "onDemandBaseCapacity")
		c.OnDemandAboveBase, _ = intProp(dist, "onDemandPercentageAboveBaseCapacity")
		if _, ok := dist["onDemandPercentageAboveBaseCapacity"]; !ok {
			c.OnDemandAboveBase = 100
		}
		c.SpotAllocationStrategy = strProp(dist, "spotAllocationStrategy")
		c.OnDemandAllocationStrategy = strProp(dist, "onDemandAllocationStrategy")
		if c.Version == "" {
			c.Version = "$Default"
		}
		return c
	}
	lt := objProp(in, "launchTemplate")
	c := asgapi.Config{TemplateID: strProp(lt, "id"), TemplateName: strProp(lt, "name"), Version: strProp(lt, "version")}
	if c.Version == "" {
		c.Version = "$Default"
	}
	return c
}

func (s *standin) groupFromInputs(u resource.URN, in resource.PropertyMap) *asgapi.Group {
	name := physicalName(u, in)
	g := &asgapi.Group{Name: name, Region: s.mocks.Region, Config: groupConfig(in),
		ARN: fmt.Sprintf("arn:aws:autoscaling:%s:%s:autoScalingGroup:%s:autoScalingGroupName/%s", s.mocks.Region,
			offline.Account, uuidOf("group", name), name),
		VPCZoneIdentifier: strings.Join(stringsProp(in, "vpcZoneIdentifiers"), ","),
		TargetGroupARNs:   stringsProp(in, "targetGroupArns"), HealthCheckType: strProp(in, "healthCheckType"),
		HealthCheckGracePeriod: 300, CapacityRebalance: boolProp(in, "capacityRebalance")}
	g.Min, _ = intProp(in, "minSize")
	g.Max, _ = intProp(in, "maxSize")
	g.Desired = g.Min
	if n, ok := intProp(in, "desiredCapacity"); ok {
		g.Desired = n
	}
	if n, ok := intProp(in, "healthCheckGracePeriod"); ok {
		g.HealthCheckGracePeriod = n
	}
	if n, ok := intProp(in, "defaultInstanceWarmup"); ok {
		g.DefaultInstanceWarmup = &n
	}
	if imp := objProp(in, "instanceMaintenancePolicy"); len(imp) > 0 {
		lo, okLo := intProp(imp, "minHealthyPercentage")
		hi, okHi := intProp(imp, "maxHealthyPercentage")
		if okLo && okHi && lo >= 0 {
			g.MinHealthy, g.MaxHealthy = &lo, &hi
		}
	}
	for _, t := range listProp(in, "tags") {
		if t.IsObject() {
			o := t.ObjectValue()
			g.Tags = append(g.Tags, asgapi.Tag{Key: strProp(o, "key"), Value: strProp(o, "value"),
				PropagateAtLaunch: boolProp(o, "propagateAtLaunch")})
		}
	}
	return g
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func uuidOf(parts ...string) string {
	h := hashOf(parts...)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// apiError is a refusal of the Auto Scaling or EC2 API as the AWS SDK for Go v2 reports it, which
// terraform-provider-aws wraps and pulumi-aws passes through.
func apiError(service, op string, err error) error {
	var api *asgapi.APIError
	if !errors.As(err, &api) {
		return err
	}
	return fmt.Errorf("operation error %s: %s, https response error StatusCode: %d, RequestID: "+
		"00000000-0000-0000-0000-000000000000, api error %s: %s", service, op, api.Status, api.Code, api.Message)
}

// fleetCreate creates a fleet resource. A group is created, launches its desired capacity and waits for it as
// terraform-provider-aws does (wait_for_capacity_timeout, default 10m: autoscaling/group.go,
// waitGroupCapacitySatisfied); when fewer instances than wanted pass their health checks the create fails with
// that provider's message, and the group exists: the engine keeps it as a partially created resource.
func (s *standin) fleetCreate(u resource.URN, in resource.PropertyMap, preview bool) (string, resource.PropertyMap, error) {
	out := in.Copy()
	typ := string(u.Type())
	name := physicalName(u, in)
	switch typ {
	case launchTemplate:
		out["name"] = resource.NewStringProperty(name)
		if preview {
			for _, k := range []string{"id", "arn", "latestVersion", "defaultVersion"} {
				out[resource.PropertyKey(k)] = resource.MakeComputed(resource.NewStringProperty(""))
			}
			return "", out, nil
		}
		var t *asgapi.Template
		err := s.fleet.Update(func(st *asgapi.State) error {
			t = st.CreateTemplate(name, templateVersion(in))
			return nil
		})
		if err != nil {
			return "", nil, err
		}
		templateOutputs(out, t, s.mocks.Region)
		return t.ID, out, nil
	case asGroup:
		out["name"] = resource.NewStringProperty(name)
		if preview {
			for _, k := range []string{"id", "arn", "predictedCapacity", "warmPoolSize"} {
				out[resource.PropertyKey(k)] = resource.MakeComputed(resource.NewStringProperty(""))
			}
			return "", out, nil
		}
		g := s.groupFromInputs(u, in)
		healthy := 0
		err := s.fleet.Update(func(st *asgapi.State) error {
			if err := st.CreateGroup(g, s.params); err != nil {
				return err
			}
			healthy = st.Groups[g.Name].Healthy()
			return nil
		})
		if err != nil {
			return "", nil, fmt.Errorf("creating Auto Scaling Group (%s): %w", name, apiError("Auto Scaling",
				"CreateAutoScalingGroup", err))
		}
		out["arn"] = resource.NewStringProperty(g.ARN)
		wait, err := time.ParseDuration(or(strProp(in, "waitForCapacityTimeout"), "10m"))
		if err != nil || wait <= 0 {
			return name, out, nil // "0" skips the wait
		}
		want := g.Min
		if g.Desired > 0 {
			want = g.Desired
		}
		if healthy < want {
			msg := fmt.Sprintf("waiting for Auto Scaling Group (%s) capacity satisfied: timeout while waiting for "+
				"state to become 'ok' (last state: 'want at least %d healthy instance(s) in Auto Scaling Group, "+
				"have %d', timeout: %s)", name, want, healthy, wait)
			return name, out, partial(name, out, in, msg)
		}
		return name, out, nil
	case asPolicy:
		out["name"] = resource.NewStringProperty(name)
		if _, ok := out["policyType"]; !ok {
			out["policyType"] = resource.NewStringProperty("SimpleScaling")
		}
		group := strProp(in, "autoscalingGroupName")
		out["arn"] = resource.NewStringProperty(fmt.Sprintf("arn:aws:autoscaling:%s:%s:scalingPolicy:%s:"+
			"autoScalingGroupName/%s:policyName/%s", s.mocks.Region, offline.Account, uuidOf("policy", name), group,
			name))
		if preview {
			out["arn"] = resource.MakeComputed(resource.NewStringProperty(""))
			return "", out, nil
		}
		if err := s.groupsExist("PutScalingPolicy", group); err != nil {
			return "", nil, fmt.Errorf("putting Auto Scaling Policy (%s): %w", name, err)
		}
		return name, out, nil
	default: // asNotification: terraform-provider-aws keys it by the topic ARN
		if preview {
			return "", out, nil
		}
		if err := s.groupsExist("PutNotificationConfiguration", stringsProp(in, "groupNames")...); err != nil {
			return "", nil, fmt.Errorf("creating Auto Scaling Notification (%s): %w", strProp(in, "topicArn"), err)
		}
		return strProp(in, "topicArn"), out, nil
	}
}

// partial is a create that failed after the resource came to exist, as pulumi-aws reports it: the engine
// records the resource with its state and the failure (ErrorResourceInitFailed).
func partial(id string, out, in resource.PropertyMap, msg string) error {
	props, err := marshal(out)
	if err != nil {
		return err
	}
	inputs, err := marshal(in)
	if err != nil {
		return err
	}
	st, err := status.New(codes.Unknown, msg).WithDetails(&pulumirpc.ErrorResourceInitFailed{Id: id,
		Properties: props, Inputs: inputs, Reasons: []string{msg}})
	if err != nil {
		return errors.New(msg)
	}
	return st.Err()
}

// groupsExist refuses a call naming a group that does not exist.
func (s *standin) groupsExist(op string, names ...string) error {
	st, err := s.fleet.Load()
	if err != nil {
		return err
	}
	for _, n := range names {
		if _, ok := st.Groups[n]; !ok {
			return apiError("Auto Scaling", op, &asgapi.APIError{Code: "ValidationError", Status: 400,
				Message: fmt.Sprintf("AutoScalingGroup name not found - AutoScalingGroup '%s' not found", n)})
		}
	}
	return nil
}

func templateOutputs(out resource.PropertyMap, t *asgapi.Template, region string) {
	out["arn"] = resource.NewStringProperty(fmt.Sprintf("arn:aws:ec2:%s:%s:launch-template/%s", region,
		offline.Account, t.ID))
	out["latestVersion"] = resource.NewNumberProperty(float64(t.LatestVersion))
	out["defaultVersion"] = resource.NewNumberProperty(float64(t.DefaultVersion))
	out["name"] = resource.NewStringProperty(t.Name)
}

// fleetUpdate updates a fleet resource in place. A launch template with new launch data gets a new version
// (unknown in a preview, as the provider marks latest_version new-computed); a group changes as
// UpdateAutoScalingGroup changes it: sizes, settings and the launch template version for later launches, no
// instance replaced. A desired capacity the program did not change is left to scaling.
func (s *standin) fleetUpdate(u resource.URN, id string, olds, oldInputs, news resource.PropertyMap,
	preview bool) (resource.PropertyMap, error) {
	out := news.Copy()
	for k, v := range olds {
		if _, ok := news[k]; !ok {
			out[k] = v
		}
	}
	switch string(u.Type()) {
	case launchTemplate:
		changed := launchDataChanged(oldInputs, news)
		if preview {
			if changed {
				out["latestVersion"] = resource.MakeComputed(resource.NewStringProperty(""))
				if boolProp(news, "updateDefaultVersion") {
					out["defaultVersion"] = resource.MakeComputed(resource.NewStringProperty(""))
				}
			}
			return out, nil
		}
		var t *asgapi.Template
		err := s.fleet.Update(func(st *asgapi.State) error {
			var err error
			t, err = st.UpdateTemplate(id, templateVersion(news), changed, boolProp(news, "updateDefaultVersion"))
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("updating EC2 Launch Template (%s): %w", id, apiError("EC2",
				"CreateLaunchTemplateVersion", err))
		}
		templateOutputs(out, t, s.mocks.Region)
		return out, nil
	case asGroup:
		if preview {
			return out, nil
		}
		next := s.groupFromInputs(u, news)
		err := s.fleet.Update(func(st *asgapi.State) error {
			// The provider sends DesiredCapacity only when it changed; without it, a new MinSize above the
			// group's capacity raises it and a new MaxSize below lowers it, while a desired capacity given outside
			// the new bounds is refused (API reference, UpdateAutoScalingGroup). UpdateGroup refuses a group that
			// does not exist.
			oldDesired, _ := intProp(oldInputs, "desiredCapacity")
			newDesired, given := intProp(news, "desiredCapacity")
			if g, ok := st.Groups[id]; ok && (!given || newDesired == oldDesired) {
				next.Desired = min(max(g.Desired, next.Min), next.Max)
			}
			return st.UpdateGroup(next, s.params)
		})
		if err != nil {
			return nil, fmt.Errorf("updating Auto Scaling Group (%s): %w", id, apiError("Auto Scaling",
				"UpdateAutoScalingGroup", err))
		}
		return out, nil
	}
	return out, nil
}

// fleetDelete deletes a fleet resource: a group's instances are terminated with it.
func (s *standin) fleetDelete(u resource.URN, id string) error {
	return s.fleet.Update(func(st *asgapi.State) error {
		switch string(u.Type()) {
		case launchTemplate:
			st.DeleteTemplate(id)
		case asGroup:
			st.DeleteGroup(id)
		}
		return nil
	})
}

// invokeGetGroup answers aws:autoscaling/getGroup from the fleet; a group that does not exist fails as the data
// source fails it (terraform-provider-aws autoscaling/group_data_source.go: "reading Auto Scaling Group (%s):
// %s" with findGroupByName's error, tfresource.AssertSingleValueResult's "empty result").
func (s *standin) invokeGetGroup(args resource.PropertyMap) (resource.PropertyMap, error) {
	name := strProp(args, "name")
	st, err := s.fleet.Load()
	if err != nil {
		return nil, err
	}
	g, ok := st.Groups[name]
	if !ok {
		return nil, fmt.Errorf("reading Auto Scaling Group (%s): empty result", name)
	}
	spec := map[string]any{"launchTemplateId": g.Config.TemplateID, "launchTemplateName": g.Config.TemplateName,
		"version": g.Config.Version}
	overrides := []any{}
	for _, t := range g.Config.InstanceTypes {
		overrides = append(overrides, map[string]any{"instanceType": t, "weightedCapacity": "",
			"instanceRequirements": []any{}, "launchTemplateSpecifications": []any{}})
	}
	mixed, templates := []any{}, []any{}
	if g.Config.Mixed {
		mixed = []any{map[string]any{
			"launchTemplates": []any{map[string]any{"launchTemplateSpecifications": []any{spec},
				"overrides": overrides}},
			"instancesDistributions": []any{map[string]any{"onDemandBaseCapacity": g.Config.OnDemandBase,
				"onDemandPercentageAboveBaseCapacity": g.Config.OnDemandAboveBase,
				"spotAllocationStrategy":              g.Config.SpotAllocationStrategy,
				"onDemandAllocationStrategy":          g.Config.OnDemandAllocationStrategy,
				"spotInstancePools":                   0, "spotMaxPrice": ""}},
		}}
	} else {
		templates = []any{map[string]any{"id": g.Config.TemplateID, "name": g.Config.TemplateName,
			"version": g.Config.Version}}
	}
	policies := []any{}
	if g.MinHealthy != nil && g.MaxHealthy != nil {
		policies = []any{map[string]any{"minHealthyPercentage": *g.MinHealthy,
			"maxHealthyPercentage": *g.MaxHealthy}}
	}
	tags, zones, targets := []any{}, []any{}, []any{}
	for _, t := range g.Tags {
		tags = append(tags, map[string]any{"key": t.Key, "value": t.Value, "propagateAtLaunch": t.PropagateAtLaunch})
	}
	for i := range max(len(strings.Split(g.VPCZoneIdentifier, ",")), 1) {
		zones = append(zones, g.Region+string(rune('a'+i)))
	}
	for _, t := range g.TargetGroupARNs {
		targets = append(targets, t)
	}
	return resource.NewPropertyMapFromMap(map[string]any{
		"id": g.Name, "name": g.Name, "arn": g.ARN, "region": g.Region, "availabilityZones": zones,
		"defaultCooldown": 300, "desiredCapacity": g.Desired, "desiredCapacityType": "units",
		"enabledMetrics": []any{}, "healthCheckGracePeriod": g.HealthCheckGracePeriod,
		"healthCheckType": g.HealthCheckType, "instanceMaintenancePolicies": policies, "launchConfiguration": "",
		"launchTemplates": templates, "loadBalancers": []any{}, "maxInstanceLifetime": 0, "maxSize": g.Max,
		"minSize": g.Min, "mixedInstancesPolicies": mixed, "newInstancesProtectedFromScaleIn": false,
		"placementGroup": "", "predictedCapacity": 0, "serviceLinkedRoleArn": fmt.Sprintf(
			"arn:aws:iam::%s:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
			offline.Account),
		"status": "", "suspendedProcesses": []any{}, "tags": tags, "targetGroupArns": targets,
		"terminationPolicies": []any{"Default"}, "trafficSources": []any{}, "vpcZoneIdentifier": g.VPCZoneIdentifier,
		"warmPoolSize": 0, "warmPools": []any{},
	}), nil
}
