// A bounded concurrent map whose results keep the input's order: for handlers whose items each wait on
// the metadata store, so that their round trips overlap (topic changes of one request: see
// `BrokerCore.topicChangeConcurrency` for what that measured).

extension Array where Element: Sendable {
    /// `transform` applied to every element, at most `limit` at a time; the results in the elements' order.
    func orderedConcurrentMap<Result: Sendable>(limit: Int,
                                                _ transform: @escaping @Sendable (Element) async -> Result) async -> [Result] {
        guard count > 1, limit > 1 else {
            var results: [Result] = []
            results.reserveCapacity(count)
            for element in self { results.append(await transform(element)) }
            return results
        }
        return await withTaskGroup(of: (Int, Result).self) { group in
            var results = [Result?](repeating: nil, count: count)
            var next = 0
            func startNext() {
                let index = next
                let element = self[index]
                next += 1
                group.addTask { (index, await transform(element)) }
            }
            while next < Swift.min(limit, count) { startNext() }
            while let (index, result) = await group.next() {
                results[index] = result
                if next < count { startNext() }
            }
            return results.compactMap { $0 }
        }
    }
}
