package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"appstack/components/readiness"
	"appstack/internal/offline"
	"appstack/testing/standin/elbapi"
)

// The front door's chain, kept in the file the Elastic Load Balancing stand-in (elbapi) answers from
// (APPSTACK_STANDIN_ELB): each listener rule's host names and target group, each target group's port and health
// path, and the targets registered in it (a target group attachment is RegisterTargets, its delete
// DeregisterTargets: terraform-provider-aws internal/service/elbv2/target_group_attachment.go), and each single
// host's boot, which decides whether it serves on a port.

const (
	targetGroupType = "aws:lb/targetGroup:TargetGroup"
	listenerRule    = "aws:lb/listenerRule:ListenerRule"
	listener        = "aws:lb/listener:Listener"
	tgAttachment    = "aws:lb/targetGroupAttachment:TargetGroupAttachment"
	ec2Instance     = "aws:ec2/instance:Instance"
)

// targetGroupArn is a target group's ARN for its physical name, as AWS makes one: targetgroup/<name>/<16 hex>. The
// offline mocks name it for the resource, which a replacement shares; def is kept when the name is unknown.
func targetGroupArn(region, name, def string) string {
	if name == "" {
		return def
	}
	return fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:targetgroup/%s/%s", region, offline.Account, name,
		hashOf("targetgroup", name)[:16])
}

// frontDoor records a created or updated resource of the chain; del says it was deleted (state are its last
// properties).
func (s *standin) frontDoor(typ, id string, state resource.PropertyMap, del bool) error {
	store := elbapi.FromEnv()
	if store == nil {
		return nil
	}
	switch typ {
	case targetGroupType, listenerRule, tgAttachment, ec2Instance:
	default:
		return nil
	}
	return store.Update(func(st *elbapi.State) error {
		switch typ {
		case targetGroupType:
			arn := strProp(state, "arn")
			if del {
				users, err := s.autoScalingUsers(arn)
				if err != nil {
					return err
				}
				return st.DeleteTargetGroup(arn, users)
			}
			tg, ok := st.TargetGroups[arn]
			if !ok {
				tg = &elbapi.TargetGroup{ARN: arn}
				st.TargetGroups[arn] = tg
			}
			tg.Name = strProp(state, "name")
			tg.Port, _ = intProp(state, "port")
			tg.Path = strProp(objProp(state, "healthCheck"), "path")
		case listenerRule:
			if del {
				delete(st.Rules, id)
				return nil
			}
			r := &elbapi.Rule{ID: id, Listener: strProp(state, "listenerArn")}
			r.Priority, _ = intProp(state, "priority")
			for _, c := range listProp(state, "conditions") {
				if c.IsObject() {
					r.Hosts = append(r.Hosts, stringsProp(objProp(c.ObjectValue(), "hostHeader"), "values")...)
				}
			}
			for _, a := range listProp(state, "actions") {
				if a.IsObject() {
					r.TargetGroup = strProp(a.ObjectValue(), "targetGroupArn")
				}
			}
			return st.PutRule(r)
		case tgAttachment:
			port, _ := intProp(state, "port")
			if del {
				st.Deregister(strProp(state, "targetGroupArn"), strProp(state, "targetId"), port)
				return nil
			}
			st.Register(strProp(state, "targetGroupArn"), strProp(state, "targetId"), port, time.Now())
		case ec2Instance:
			if del {
				delete(st.Hosts, id)
				return nil
			}
			p, err := readiness.ParseUserData(strProp(state, "userData"), strProp(state, "userDataBase64"))
			if err != nil || p.ReadyPrefix == "" {
				return err
			}
			// The boot ran at the create (boot): its signal says how it ended.
			params, err := s.params.Read()
			if err != nil {
				return err
			}
			ready := strings.HasPrefix(params.Parameters[p.ReadyPrefix+"/"+id], readiness.Ready+" "+p.Fingerprint)
			st.Hosts[id] = &elbapi.Host{Fingerprint: p.Fingerprint, Ready: ready, Ports: p.Ports, Paths: p.Paths}
		}
		return nil
	})
}

// autoScalingUsers are the stand-in's Auto Scaling groups that list the target group.
func (s *standin) autoScalingUsers(arn string) ([]string, error) {
	if s.fleet == nil || s.fleet.File == "" {
		return nil, nil
	}
	fleet, err := s.fleet.Load()
	if err != nil {
		return nil, err
	}
	var out []string
	for name, g := range fleet.Groups {
		if slices.Contains(g.TargetGroupARNs, arn) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}
