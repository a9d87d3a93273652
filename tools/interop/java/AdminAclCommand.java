// Admin operations the authorization matrix uses (test_security_acl.py), run by AdminCommand for op
// names it does not know itself: authorized operations (KIP-430) of the cluster, topics and groups,
// electLeaders, alterConsumerGroupOffsets (OffsetCommit), deleteConsumerGroupOffsets (OffsetDelete),
// describeUserScramCredentials.
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeConsumerGroupsOptions;
import org.apache.kafka.clients.admin.DescribeTopicsOptions;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.ElectionType;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.acl.AclOperation;

final class AdminAclCommand {
    private AdminAclCommand() {}

    /** The result of `op`, or null when the op is not one of these. */
    static Object run(Admin admin, Args op, String name) throws Exception {
        switch (name) {
            case "clusterAuthorizedOperations":
                return ops(admin.describeCluster(new DescribeClusterOptions().includeAuthorizedOperations(true))
                    .authorizedOperations().get());
            case "topicAuthorizedOperations": {
                TopicDescription d = admin.describeTopics(List.of(op.str("topic")),
                    new DescribeTopicsOptions().includeAuthorizedOperations(true)).allTopicNames().get().get(op.str("topic"));
                return ops(d.authorizedOperations());
            }
            case "groupAuthorizedOperations": {
                ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(op.str("group")),
                    new DescribeConsumerGroupsOptions().includeAuthorizedOperations(true)).all().get().get(op.str("group"));
                return ops(d.authorizedOperations());
            }
            case "electLeaders": {
                TopicPartition tp = new TopicPartition(op.str("topic"), (int) op.num("partition", 0));
                var result = admin.electLeaders(ElectionType.PREFERRED, Set.of(tp)).partitions().get();
                return result.get(tp).map(t -> JavaClient.errorName(t)).orElse(null);
            }
            case "alterConsumerGroupOffsets": {
                TopicPartition tp = new TopicPartition(op.str("topic"), (int) op.num("partition", 0));
                admin.alterConsumerGroupOffsets(op.str("group"), Map.of(tp, new OffsetAndMetadata(op.num("offset")))).all().get();
                return null;
            }
            case "deleteConsumerGroupOffsets": {
                TopicPartition tp = new TopicPartition(op.str("topic"), (int) op.num("partition", 0));
                admin.deleteConsumerGroupOffsets(op.str("group"), Set.of(tp)).all().get();
                return null;
            }
            case "describeUserScramCredentials":
                return new ArrayList<>(admin.describeUserScramCredentials().users().get());
            default:
                return null;
        }
    }

    static boolean knows(String name) {
        return List.of("clusterAuthorizedOperations", "topicAuthorizedOperations", "groupAuthorizedOperations",
            "electLeaders", "alterConsumerGroupOffsets", "deleteConsumerGroupOffsets", "describeUserScramCredentials")
            .contains(name);
    }

    /** Operation names, sorted; null when the broker did not send them. */
    private static Object ops(Set<AclOperation> operations) {
        if (operations == null) return null;
        Set<String> names = new TreeSet<>();
        for (AclOperation o : operations) names.add(o.name());
        return new ArrayList<>(names);
    }

}
