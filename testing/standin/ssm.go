package main

import (
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"appstack/internal/offline"
	"appstack/testing/standin/ssmstore"
)

// The stand-in keeps a small parameter store in a file (ssmstore), so that it outlives the plugin process as SSM
// outlives a `pulumi up`: each host the stand-in launches gets the readiness signal its boot script would have
// written, and the program's reads of aws:ssm/getParameter and aws:ssm/getParametersByPath answer from that
// store. APPSTACK_STANDIN_SSM names the store, APPSTACK_STANDIN_BOOTS the boots' outcomes.

// store is the offline mocks' parameter model over the loaded state.
func (s *standin) store(st *ssmstore.State) *offline.Mocks {
	m := &offline.Mocks{Region: s.mocks.Region}
	for name, value := range st.Parameters {
		m.SetParameter(name, value)
	}
	return m
}

// boot models the boot of a created instance: the next outcome decides the signal it leaves.
func (s *standin) boot(id string, inputs resource.PropertyMap) error {
	_, err := s.params.Boot(id, strProp(inputs, "userData"), strProp(inputs, "userDataBase64"))
	return err
}

// readsSSM says whether an invoke reads the parameter store.
func readsSSM(tok string, args resource.PropertyMap) bool {
	switch tok {
	case "aws:ssm/getParametersByPath:getParametersByPath":
		return true
	case "aws:ssm/getParameter:getParameter":
		name, ok := args["name"]
		return ok && name.IsString() && !strings.HasPrefix(name.StringValue(), "/aws/service/")
	}
	return false
}

// invokeSSM answers a read of the parameter store as pulumi-aws would, a missing parameter included.
func (s *standin) invokeSSM(tok string, args resource.PropertyMap) (resource.PropertyMap, error) {
	st, err := s.params.Read()
	if err != nil {
		return nil, err
	}
	return s.store(st).Call(pulumi.MockCallArgs{Token: tok, Args: args})
}
