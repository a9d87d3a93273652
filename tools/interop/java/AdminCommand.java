// `admin`: runs a list of AdminClient operations in order and reports each one's result or error
// (exception simple name + message), so a test can assert both success and Kafka's exact errors.
// Ops: createTopics, listTopics, describeTopics, describeCluster, describeConfigs,
// incrementalAlterConfigs, createPartitions, deleteRecords, listOffsets, deleteTopics,
// describeProducers, listConsumerGroupOffsets, describeConsumerGroups, awaitAbsent (poll describeTopics until UnknownTopicOrPartition),
// listTransactions, describeTransactions, abortTransaction, alterPartitionReassignments (replicas null
// cancels), listPartitionReassignments, describeLogDirs, alterClientQuotas (value null removes a key),
// describeClientQuotas (all entities). createTopics, createPartitions and deleteTopics take
// retryOnQuotaViolation (default true, as Kafka); a ThrottlingQuotaExceededException reports its throttleTimeMs.
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.apache.kafka.clients.admin.AbortTransactionSpec;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.CreatePartitionsOptions;
import org.apache.kafka.clients.admin.CreateTopicsOptions;
import org.apache.kafka.clients.admin.DeleteTopicsOptions;
import org.apache.kafka.clients.admin.DeletedRecords;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.admin.NewPartitionReassignment;
import org.apache.kafka.clients.admin.PartitionReassignment;
import org.apache.kafka.clients.admin.ReplicaInfo;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.ListTransactionsOptions;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionListing;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.ThrottlingQuotaExceededException;
import org.apache.kafka.common.quota.ClientQuotaAlteration;
import org.apache.kafka.common.quota.ClientQuotaEntity;
import org.apache.kafka.common.quota.ClientQuotaFilter;

final class AdminCommand {
    static Object run(Args args) throws Exception {
        List<Object> results = new ArrayList<>();
        try (Admin admin = Admin.create(JavaClient.clientProps(args))) {
            for (Object o : args.list("ops")) {
                Args op = args.sub(o);
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("op", op.str("op"));
                try {
                    r.put("result", runOne(admin, op));
                    r.put("ok", true);
                } catch (Throwable t) {
                    r.put("ok", false);
                    r.put("error", JavaClient.errorName(t));
                    r.put("message", JavaClient.describe(t));
                }
                results.add(r);
            }
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("results", results);
        return out;
    }

    private static Object runOne(Admin admin, Args op) throws Exception {
        switch (op.str("op")) {
            case "createTopics": {
                List<NewTopic> topics = new ArrayList<>();
                for (Object t : op.list("topics")) {
                    Args ta = op.sub(t);
                    NewTopic nt = new NewTopic(ta.str("name"),
                        Optional.ofNullable(ta.has("partitions") ? (int) ta.num("partitions") : null),
                        Optional.ofNullable(ta.has("replicationFactor") ? (short) ta.num("replicationFactor") : null));
                    Map<String, String> cfg = new HashMap<>();
                    for (Map.Entry<String, Object> e : ta.obj("configs").entrySet()) cfg.put(e.getKey(), String.valueOf(e.getValue()));
                    topics.add(nt.configs(cfg));
                }
                var res = admin.createTopics(topics, new CreateTopicsOptions().validateOnly(op.bool("validateOnly", false))
                    .retryOnQuotaViolation(op.bool("retryOnQuotaViolation", true)));
                Map<String, Object> perTopic = new LinkedHashMap<>();
                for (Map.Entry<String, KafkaFuture<Void>> e : res.values().entrySet()) {
                    perTopic.put(e.getKey(), outcome(e.getValue(), () -> {
                        Map<String, Object> m = new LinkedHashMap<>();
                        m.put("numPartitions", res.numPartitions(e.getKey()).get());
                        m.put("replicationFactor", (long) res.replicationFactor(e.getKey()).get());
                        m.put("topicId", String.valueOf(res.topicId(e.getKey()).get()));
                        return m;
                    }));
                }
                return perTopic;
            }
            case "listTopics":
                return new ArrayList<>(new java.util.TreeSet<>(admin.listTopics().names().get()));
            case "describeTopics": {
                List<String> names = new ArrayList<>();
                for (Object n : op.list("names")) names.add(n.toString());
                Map<String, Object> out = new LinkedHashMap<>();
                for (Map.Entry<String, KafkaFuture<TopicDescription>> e : admin.describeTopics(names).topicNameValues().entrySet()) {
                    out.put(e.getKey(), outcome(e.getValue(), () -> describeTopic(e.getValue().get())));
                }
                return out;
            }
            case "describeCluster": {
                DescribeClusterResult d = admin.describeCluster();
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("clusterId", d.clusterId().get());
                Node c = d.controller().get();
                m.put("controller", c == null ? null : (long) c.id());
                List<Object> nodes = new ArrayList<>();
                for (Node n : d.nodes().get()) nodes.add(node(n));
                m.put("nodes", nodes);
                return m;
            }
            case "describeConfigs": {
                List<ConfigResource> rs = new ArrayList<>();
                for (Object n : op.list("topics")) rs.add(new ConfigResource(ConfigResource.Type.TOPIC, n.toString()));
                for (Object n : op.list("brokers")) rs.add(new ConfigResource(ConfigResource.Type.BROKER, n.toString()));
                Map<String, Object> out = new LinkedHashMap<>();
                for (Map.Entry<ConfigResource, KafkaFuture<Config>> e : admin.describeConfigs(rs).values().entrySet()) {
                    out.put(e.getKey().type().name().toLowerCase() + ":" + e.getKey().name(), outcome(e.getValue(), () -> {
                        Map<String, Object> entries = new TreeMap<>();
                        for (ConfigEntry ce : e.getValue().get().entries()) {
                            Map<String, Object> m = new LinkedHashMap<>();
                            m.put("value", ce.value());
                            m.put("source", ce.source().name());
                            m.put("readOnly", ce.isReadOnly());
                            m.put("sensitive", ce.isSensitive());
                            m.put("isDefault", ce.isDefault());
                            entries.put(ce.name(), m);
                        }
                        return entries;
                    }));
                }
                return out;
            }
            case "incrementalAlterConfigs": {
                ConfigResource res = new ConfigResource(ConfigResource.Type.valueOf(op.str("type", "TOPIC")), op.str("name"));
                List<AlterConfigOp> ops = new ArrayList<>();
                for (Map.Entry<String, Object> e : op.obj("set").entrySet()) {
                    ops.add(new AlterConfigOp(new ConfigEntry(e.getKey(), String.valueOf(e.getValue())), AlterConfigOp.OpType.SET));
                }
                for (Object k : op.list("delete")) {
                    ops.add(new AlterConfigOp(new ConfigEntry(k.toString(), null), AlterConfigOp.OpType.DELETE));
                }
                Map<ConfigResource, Collection<AlterConfigOp>> m = new HashMap<>();
                m.put(res, ops);
                admin.incrementalAlterConfigs(m).all().get();
                return null;
            }
            case "createPartitions": {
                Map<String, NewPartitions> m = new HashMap<>();
                m.put(op.str("topic"), NewPartitions.increaseTo((int) op.num("totalCount")));
                admin.createPartitions(m, new CreatePartitionsOptions().retryOnQuotaViolation(op.bool("retryOnQuotaViolation", true))).all().get();
                return null;
            }
            case "deleteRecords": {
                Map<TopicPartition, RecordsToDelete> m = new HashMap<>();
                TopicPartition tp = new TopicPartition(op.str("topic"), (int) op.num("partition", 0));
                m.put(tp, RecordsToDelete.beforeOffset(op.num("beforeOffset")));
                DeletedRecords d = admin.deleteRecords(m).lowWatermarks().get(tp).get();
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("lowWatermark", d.lowWatermark());
                return r;
            }
            case "listOffsets": {
                String spec = op.str("spec");
                OffsetSpec os = spec.equals("earliest") ? OffsetSpec.earliest()
                    : spec.equals("latest") ? OffsetSpec.latest()
                    : spec.equals("maxTimestamp") ? OffsetSpec.maxTimestamp()
                    : OffsetSpec.forTimestamp(Long.parseLong(spec));
                Map<TopicPartition, OffsetSpec> m = new HashMap<>();
                List<TopicPartition> tps = new ArrayList<>();
                for (Object p : op.list("partitions")) {
                    TopicPartition tp = new TopicPartition(op.str("topic"), ((Number) p).intValue());
                    tps.add(tp);
                    m.put(tp, os);
                }
                Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> all = admin.listOffsets(m).all().get();
                Map<String, Object> out = new LinkedHashMap<>();
                for (TopicPartition tp : tps) {
                    ListOffsetsResult.ListOffsetsResultInfo info = all.get(tp);
                    Map<String, Object> r = new LinkedHashMap<>();
                    r.put("offset", info.offset());
                    r.put("timestamp", info.timestamp());
                    out.put(String.valueOf(tp.partition()), r);
                }
                return out;
            }
            case "listConsumerGroupOffsets": {
                // {"topic:partition": committed offset} of one group (OffsetFetch).
                Map<TopicPartition, OffsetAndMetadata> offsets =
                    admin.listConsumerGroupOffsets(op.str("group")).partitionsToOffsetAndMetadata().get();
                Map<String, Object> out = new TreeMap<>();
                for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) {
                    out.put(e.getKey().topic() + ":" + e.getKey().partition(), e.getValue() == null ? null : e.getValue().offset());
                }
                return out;
            }
            case "describeConsumerGroups": {
                // State, assignor and members (member id, instance id, assignment) per group (DescribeGroups).
                List<String> groups = new ArrayList<>();
                for (Object g : op.list("groups")) groups.add(g.toString());
                Map<String, Object> out = new LinkedHashMap<>();
                for (Map.Entry<String, ConsumerGroupDescription> e : admin.describeConsumerGroups(groups).all().get().entrySet()) {
                    ConsumerGroupDescription d = e.getValue();
                    Map<String, Object> g = new LinkedHashMap<>();
                    g.put("state", String.valueOf(d.groupState()));
                    g.put("assignor", d.partitionAssignor());
                    List<Object> members = new ArrayList<>();
                    for (MemberDescription m : d.members()) {
                        Map<String, Object> md = new LinkedHashMap<>();
                        md.put("memberId", m.consumerId());
                        md.put("instanceId", m.groupInstanceId().orElse(null));
                        List<Object> tps = new ArrayList<>();
                        for (TopicPartition tp : m.assignment().topicPartitions()) tps.add(tp.topic() + ":" + tp.partition());
                        tps.sort(null);
                        md.put("assignment", tps);
                        members.add(md);
                    }
                    g.put("members", members);
                    out.put(e.getKey(), g);
                }
                return out;
            }
            case "deleteTopics": {
                List<String> names = new ArrayList<>();
                for (Object n : op.list("names")) names.add(n.toString());
                Map<String, Object> out = new LinkedHashMap<>();
                for (Map.Entry<String, KafkaFuture<Void>> e : admin.deleteTopics(names, new DeleteTopicsOptions().retryOnQuotaViolation(op.bool("retryOnQuotaViolation", true))).topicNameValues().entrySet()) {
                    out.put(e.getKey(), outcome(e.getValue(), () -> null));
                }
                return out;
            }
            case "describeProducers": {
                TopicPartition tp = new TopicPartition(op.str("topic"), (int) op.num("partition", 0));
                List<Object> out = new ArrayList<>();
                for (ProducerState ps : admin.describeProducers(List.of(tp)).partitionResult(tp).get().activeProducers()) {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("producerId", ps.producerId());
                    m.put("producerEpoch", (long) ps.producerEpoch());
                    m.put("lastSequence", (long) ps.lastSequence());
                    m.put("currentTransactionStartOffset", ps.currentTransactionStartOffset().isPresent()
                        ? ps.currentTransactionStartOffset().getAsLong() : null);
                    m.put("coordinatorEpoch", ps.coordinatorEpoch().isPresent() ? (long) ps.coordinatorEpoch().getAsInt() : null);
                    m.put("lastTimestamp", ps.lastTimestamp());
                    out.add(m);
                }
                return out;
            }
            case "listTransactions": {
                ListTransactionsOptions options = new ListTransactionsOptions();
                List<TransactionState> states = new ArrayList<>();
                for (Object st : op.list("states")) states.add(TransactionState.parse(st.toString()));
                if (!states.isEmpty()) options.filterStates(states);
                List<Long> pids = new ArrayList<>();
                for (Object pid : op.list("producerIds")) pids.add(((Number) pid).longValue());
                if (!pids.isEmpty()) options.filterProducerIds(pids);
                List<Object> out = new ArrayList<>();
                for (Map.Entry<Integer, Collection<TransactionListing>> e : admin.listTransactions(options).allByBrokerId().get().entrySet()) {
                    for (TransactionListing l : e.getValue()) {
                        Map<String, Object> m = new LinkedHashMap<>();
                        m.put("transactionalId", l.transactionalId());
                        m.put("coordinator", (long) e.getKey());
                        m.put("producerId", l.producerId());
                        m.put("state", l.state().toString());
                        out.add(m);
                    }
                }
                return out;
            }
            case "describeTransactions": {
                String id = op.str("transactionalId");
                TransactionDescription d = admin.describeTransactions(List.of(id)).description(id).get();
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("coordinatorId", (long) d.coordinatorId());
                m.put("state", d.state().toString());
                m.put("producerId", d.producerId());
                m.put("producerEpoch", (long) d.producerEpoch());
                m.put("transactionTimeoutMs", d.transactionTimeoutMs());
                m.put("transactionStartTimeMs", d.transactionStartTimeMs().isPresent() ? d.transactionStartTimeMs().getAsLong() : null);
                List<Object> parts = new ArrayList<>();
                for (TopicPartition tp : d.topicPartitions()) parts.add(tp.topic() + ":" + tp.partition());
                java.util.Collections.sort(parts, (a, b) -> a.toString().compareTo(b.toString()));
                m.put("partitions", parts);
                return m;
            }
            case "abortTransaction": {
                TopicPartition tp = new TopicPartition(op.str("topic"), (int) op.num("partition", 0));
                admin.abortTransaction(new AbortTransactionSpec(tp, op.num("producerId"), (short) op.num("producerEpoch"),
                                                                (int) op.num("coordinatorEpoch", 0))).all().get();
                return null;
            }
            case "alterPartitionReassignments": {
                Map<TopicPartition, Optional<NewPartitionReassignment>> moves = new LinkedHashMap<>();
                for (Object o : op.list("partitions")) {
                    Args pa = op.sub(o);
                    TopicPartition tp = new TopicPartition(pa.str("topic"), (int) pa.num("partition"));
                    if (!pa.has("replicas")) {
                        moves.put(tp, Optional.empty());
                        continue;
                    }
                    List<Integer> replicas = new ArrayList<>();
                    for (Object r : pa.list("replicas")) replicas.add(((Number) r).intValue());
                    moves.put(tp, Optional.of(new NewPartitionReassignment(replicas)));
                }
                Map<String, Object> out = new LinkedHashMap<>();
                for (Map.Entry<TopicPartition, KafkaFuture<Void>> e : admin.alterPartitionReassignments(moves).values().entrySet()) {
                    out.put(e.getKey().toString(), outcome(e.getValue(), () -> null));
                }
                return out;
            }
            case "listPartitionReassignments": {
                Map<String, Object> out = new TreeMap<>();
                for (Map.Entry<TopicPartition, PartitionReassignment> e : admin.listPartitionReassignments().reassignments().get().entrySet()) {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("replicas", longs(e.getValue().replicas()));
                    m.put("adding", longs(e.getValue().addingReplicas()));
                    m.put("removing", longs(e.getValue().removingReplicas()));
                    out.put(e.getKey().toString(), m);
                }
                return out;
            }
            case "describeLogDirs": {
                List<Integer> brokers = new ArrayList<>();
                for (Object b : op.list("brokers")) brokers.add(((Number) b).intValue());
                Map<String, Object> out = new TreeMap<>();
                for (Map.Entry<Integer, Map<String, LogDirDescription>> e : admin.describeLogDirs(brokers).allDescriptions().get().entrySet()) {
                    Map<String, Object> dirs = new TreeMap<>();
                    for (Map.Entry<String, LogDirDescription> d : e.getValue().entrySet()) {
                        Map<String, Object> dm = new LinkedHashMap<>();
                        dm.put("error", d.getValue().error() == null ? null : d.getValue().error().getClass().getSimpleName());
                        dm.put("totalBytes", d.getValue().totalBytes().isPresent() ? d.getValue().totalBytes().getAsLong() : null);
                        dm.put("usableBytes", d.getValue().usableBytes().isPresent() ? d.getValue().usableBytes().getAsLong() : null);
                        Map<String, Object> replicas = new TreeMap<>();
                        for (Map.Entry<TopicPartition, ReplicaInfo> r : d.getValue().replicaInfos().entrySet()) {
                            Map<String, Object> rm = new LinkedHashMap<>();
                            rm.put("size", r.getValue().size());
                            rm.put("offsetLag", r.getValue().offsetLag());
                            rm.put("isFuture", r.getValue().isFuture());
                            replicas.put(r.getKey().toString(), rm);
                        }
                        dm.put("replicas", replicas);
                        dirs.put(d.getKey(), dm);
                    }
                    out.put(String.valueOf(e.getKey()), dirs);
                }
                return out;
            }
            case "alterClientQuotas": {
                // {"entity": {"user": "alice" | null for <default>, ...}, "ops": {"producer_byte_rate": 1024 | null}}
                Map<String, String> entity = new HashMap<>();
                for (Map.Entry<String, Object> e : op.obj("entity").entrySet()) {
                    entity.put(e.getKey(), e.getValue() == null ? null : String.valueOf(e.getValue()));
                }
                List<ClientQuotaAlteration.Op> ops = new ArrayList<>();
                for (Map.Entry<String, Object> e : op.obj("ops").entrySet()) {
                    ops.add(new ClientQuotaAlteration.Op(e.getKey(), e.getValue() == null ? null : ((Number) e.getValue()).doubleValue()));
                }
                admin.alterClientQuotas(List.of(new ClientQuotaAlteration(new ClientQuotaEntity(entity), ops))).all().get();
                return null;
            }
            case "describeClientQuotas": {
                List<Object> out = new ArrayList<>();
                for (Map.Entry<ClientQuotaEntity, Map<String, Double>> e :
                         admin.describeClientQuotas(ClientQuotaFilter.all()).entities().get().entrySet()) {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("entity", new TreeMap<>(e.getKey().entries()));
                    m.put("values", new TreeMap<>(e.getValue()));
                    out.add(m);
                }
                return out;
            }
            case "awaitAbsent": {
                // Topic deletion may take a moment to show in metadata: poll with a deadline.
                String name = op.str("name");
                long t0 = System.currentTimeMillis();
                long deadline = t0 + op.num("timeoutMs", 15000);
                while (true) {
                    try {
                        admin.describeTopics(List.of(name)).allTopicNames().get();
                    } catch (java.util.concurrent.ExecutionException e) {
                        if (e.getCause() instanceof org.apache.kafka.common.errors.UnknownTopicOrPartitionException) {
                            Map<String, Object> m = new LinkedHashMap<>();
                            m.put("absent", true);
                            m.put("waitedMs", System.currentTimeMillis() - t0);
                            return m;
                        }
                        throw e;
                    }
                    if (System.currentTimeMillis() > deadline) {
                        throw new IllegalStateException("topic " + name + " still described after deletion");
                    }
                    Thread.sleep(100);
                }
            }
            default:
                if (AdminAclCommand.knows(op.str("op"))) return AdminAclCommand.run(admin, op, op.str("op"));
                throw new IllegalArgumentException("unknown admin op " + op.str("op"));
        }
    }

    interface Body { Object get() throws Exception; }

    /** {"ok": true, "value": ...} or {"ok": false, "error": SimpleName, "message": ...} for one future. */
    private static Map<String, Object> outcome(KafkaFuture<?> f, Body body) {
        Map<String, Object> m = new LinkedHashMap<>();
        try {
            f.get();
            m.put("ok", true);
            m.put("value", body.get());
        } catch (Throwable t) {
            m.put("ok", false);
            m.put("error", JavaClient.errorName(t));
            m.put("message", JavaClient.describe(t));
            Throwable c = t;
            while (c.getCause() != null && !(c instanceof ThrottlingQuotaExceededException)) c = c.getCause();
            if (c instanceof ThrottlingQuotaExceededException q) m.put("throttleTimeMs", (long) q.throttleTimeMs());
        }
        return m;
    }

    private static Map<String, Object> describeTopic(TopicDescription d) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", d.name());
        m.put("internal", d.isInternal());
        m.put("topicId", String.valueOf(d.topicId()));
        List<Object> parts = new ArrayList<>();
        for (TopicPartitionInfo p : d.partitions()) {
            Map<String, Object> pm = new LinkedHashMap<>();
            pm.put("partition", p.partition());
            pm.put("leader", p.leader() == null ? null : (long) p.leader().id());
            List<Object> replicas = new ArrayList<>();
            for (Node n : p.replicas()) replicas.add((long) n.id());
            List<Object> isr = new ArrayList<>();
            for (Node n : p.isr()) isr.add((long) n.id());
            pm.put("replicas", replicas);
            pm.put("isr", isr);
            parts.add(pm);
        }
        m.put("partitions", parts);
        return m;
    }

    private static List<Object> longs(List<Integer> ids) {
        List<Object> out = new ArrayList<>();
        for (Integer id : ids) out.add((long) id);
        return out;
    }

    private static Map<String, Object> node(Node n) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", (long) n.id());
        m.put("host", n.host());
        m.put("port", (long) n.port());
        return m;
    }
}
