import { Field, ID, InterfaceType } from 'type-graphql';

/**
 * Relay's Node. Implementations expose their opaque id through a `globalId`
 * getter named `id` in the schema, keeping the entity's own `id` the uuid.
 */
@InterfaceType('Node', {
  description: 'An object with an opaque global id, fetchable with node(id).',
  resolveType: (value: object) => value.constructor.name,
})
export abstract class Node {
  @Field(() => ID, { name: 'id' })
  globalId!: string;
}
