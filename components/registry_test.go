package components_test

import (
	"encoding/json"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/registry"
	"appstack/testing/offlinetest"
)

func TestRepositoryIsImmutableScannedAndEncrypted(t *testing.T) {
	res := offlinetest.Run(t, program(registry.New, "web", &registry.Args{}))
	repo := offlinetest.One(t, res, "aws:ecr/repository:Repository")
	assert.Equal(t, "IMMUTABLE", offlinetest.Str(t, repo, "imageTagMutability"))
	assert.True(t, offlinetest.Bool(t, repo, "imageScanningConfiguration.scanOnPush"))
	assert.Equal(t, "KMS", offlinetest.Str(t, repo, "encryptionConfigurations[0].encryptionType"))
	assert.False(t, offlinetest.Bool(t, repo, "forceDelete"), "force-delete is off unless asked for")
}

func TestForceDeleteAndKeyAreHonoured(t *testing.T) {
	res := offlinetest.Run(t, program(registry.New, "web", &registry.Args{ForceDelete: true, KmsKeyArn: pulumi.String("arn:aws:kms:k")}))
	repo := offlinetest.One(t, res, "aws:ecr/repository:Repository")
	assert.True(t, offlinetest.Bool(t, repo, "forceDelete"))
	assert.Equal(t, "arn:aws:kms:k", offlinetest.Str(t, repo, "encryptionConfigurations[0].kmsKey"))
}

func TestLifecyclePolicyKeepsNImagesAndExpiresUntagged(t *testing.T) {
	for _, tc := range []struct {
		name string
		keep int
		want int
	}{
		{"default keeps the last 10 images", 0, 10},
		{"keepImages sets the count", 25, 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := offlinetest.Run(t, program(registry.New, "web", &registry.Args{KeepImages: tc.keep}))
			lp := offlinetest.One(t, res, "aws:ecr/lifecyclePolicy:LifecyclePolicy")
			var doc struct {
				Rules []struct {
					RulePriority int
					Selection    struct {
						TagStatus   string
						CountType   string
						CountUnit   string
						CountNumber int
					}
					Action struct{ Type string }
				}
			}
			require.NoError(t, json.Unmarshal([]byte(offlinetest.Str(t, lp, "policy")), &doc))
			require.Len(t, doc.Rules, 2)
			untagged, any := doc.Rules[0], doc.Rules[1]
			assert.Equal(t, "untagged", untagged.Selection.TagStatus)
			assert.Equal(t, "sinceImagePushed", untagged.Selection.CountType)
			assert.Equal(t, 1, untagged.Selection.CountNumber)
			assert.Equal(t, "any", any.Selection.TagStatus)
			assert.Equal(t, "imageCountMoreThan", any.Selection.CountType)
			assert.Equal(t, tc.want, any.Selection.CountNumber)
			assert.Greater(t, any.RulePriority, untagged.RulePriority, "ECR wants the any rule last")
			assert.Equal(t, "expire", any.Action.Type)
		})
	}
}

func TestNegativeKeepIsRejected(t *testing.T) {
	_, err := offlinetest.RunErr(program(registry.New, "web", &registry.Args{KeepImages: -1}))
	assert.ErrorContains(t, err, `registry "web": KeepImages -1: want at least 1`)
}
