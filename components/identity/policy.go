package identity

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Statement is one IAM policy statement.
type Statement struct {
	Sid      string
	Effect   string
	Action   []string
	Resource []string
}

// Document is an IAM policy document.
type Document struct {
	Version   string
	Statement []Statement
}

// PolicyDocument renders the host's least-privilege inline policy: pull from the stack's repositories, use its
// tables, read its secrets, write its logs. No action is a wildcard; the only "*" resource is
// ecr:GetAuthorizationToken, which AWS does not scope to a resource.
func PolicyDocument(g Grants) (string, error) {
	if g.LogGroupArn == "" {
		return "", fmt.Errorf("identity policy: the log group ARN is empty")
	}
	doc := Document{Version: "2012-10-17"}
	add := func(sid string, actions, resources []string) {
		if len(resources) > 0 {
			doc.Statement = append(doc.Statement, Statement{sid, "Allow", actions, resources})
		}
	}
	// Every repository the host may pull from: the stack's own (one per service, whichever way it gets its
	// image) and the repository of each pinned ECR image, another stack's or account's included. A login
	// token is needed for any of them.
	repos := slices.Compact(slices.Sorted(slices.Values(g.RepositoryArns)))
	if len(repos) > 0 {
		add("EcrLogin", []string{"ecr:GetAuthorizationToken"}, []string{"*"})
	}
	add("EcrPull", []string{"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"},
		repos)
	var tables []string
	for _, arn := range g.TableArns {
		tables = append(tables, arn, arn+"/index/*")
	}
	add("Tables", []string{
		"dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem",
		"dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan",
		"dynamodb:UpdateItem",
	}, tables)
	add("Secrets", []string{"ssm:GetParameter", "ssm:GetParameters"}, g.ParameterArns)
	if g.ReadyParameterArn != "" {
		// The boot script's readiness signal: the only parameters the host may write. Once ready, the host
		// deletes the other deploys' signals under the same path, which it lists.
		add("ReadySignal", []string{"ssm:DeleteParameter", "ssm:PutParameter"}, []string{g.ReadyParameterArn})
	}
	if g.ReadyPathArn != "" {
		// GetParametersByPath is authorized against the path, not the parameters it returns.
		add("ReadySignalList", []string{"ssm:GetParametersByPath"}, []string{g.ReadyPathArn})
	}
	if g.KmsKeyArn != "" && (len(g.ParameterArns) > 0 || len(g.TableArns) > 0) {
		// The stack's own key: AmazonSSMManagedInstanceCore lets any host read any parameter, but only this
		// role can decrypt this stack's.
		add("StackKey", []string{"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"},
			[]string{g.KmsKeyArn})
	}
	add("Logs", []string{"logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"},
		[]string{g.LogGroupArn, g.LogGroupArn + ":*"})
	out, err := json.Marshal(doc)
	return string(out), err
}
