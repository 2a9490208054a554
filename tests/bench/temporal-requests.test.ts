import { requestsBetween, requestsByOperation } from '../../scripts/bench/temporal-requests';

// The SDK core's counters as its Prometheus exporter writes them.
const before = `# HELP temporal_request Count of client request successes by rpc name
# TYPE temporal_request counter
temporal_request{namespace="bench",operation="RecordActivityTaskHeartbeat",service_name="temporal-core-sdk",task_queue="q"} 10
temporal_request{namespace="bench",operation="RespondWorkflowTaskCompleted",service_name="temporal-core-sdk",task_queue="q"} 4
temporal_request_failure{namespace="bench",operation="RespondWorkflowTaskCompleted",status_code="NOT_FOUND"} 7
temporal_long_request{namespace="bench",operation="PollWorkflowTaskQueue",service_name="temporal-core-sdk",task_queue="q"} 3
temporal_long_request{namespace="bench",operation="PollWorkflowTaskQueue",service_name="temporal-core-sdk",task_queue="q-sticky"} 2
`;

test('requests are counted by operation, polls of every queue together, failures apart', () => {
  expect(requestsByOperation(before)).toEqual({ RecordActivityTaskHeartbeat: 10, RespondWorkflowTaskCompleted: 4, PollWorkflowTaskQueue: 5 });
  // The `_total` suffix some exporters add.
  expect(requestsByOperation('temporal_request_total{operation="StartWorkflowExecution"} 2\n')).toEqual({ StartWorkflowExecution: 2 });
});

test('a phase is what was asked between two snapshots, most asked first', () => {
  const after = { RecordActivityTaskHeartbeat: 30, RespondWorkflowTaskCompleted: 54, PollWorkflowTaskQueue: 5, RespondActivityTaskCompleted: 1 };
  const delta = requestsBetween(requestsByOperation(before), after);
  expect(delta).toEqual({ RespondWorkflowTaskCompleted: 50, RecordActivityTaskHeartbeat: 20, RespondActivityTaskCompleted: 1 });
  expect(Object.keys(delta)).toEqual(['RespondWorkflowTaskCompleted', 'RecordActivityTaskHeartbeat', 'RespondActivityTaskCompleted']);
});
