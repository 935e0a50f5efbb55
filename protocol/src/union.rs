//! Protobuf for tagged unions whose every variant carries one message.
//!
//! Hrana's JSON tags a union with a `type` field; its protobuf puts the same union in a `oneof`
//! with one message per variant. `message_union!` writes the `prost::Message` impl for such an
//! enum. The enum's `Unknown` variant stands for a union member this version does not know (a
//! newer peer's request): it decodes from an unknown or missing member and encodes to nothing.

macro_rules! message_union {
    ($name:ident, unknown = $unknown:ident, { $($tag:literal => $variant:ident,)+ }) => {
        impl $name {
            /// Encodes the set member as field `tag` of the enclosing message.
            pub(crate) fn encode_member(&self, buf: &mut impl ::bytes::BufMut) {
                match self {
                    $(Self::$variant(m) => ::prost::encoding::message::encode($tag, m, buf),)+
                    Self::$unknown => {}
                }
            }

            /// Merges field `tag` if it is a member of this union; `Ok(false)` if it is not.
            pub(crate) fn merge_member(
                &mut self,
                tag: u32,
                wire_type: ::prost::encoding::WireType,
                buf: &mut impl ::bytes::Buf,
                ctx: ::prost::encoding::DecodeContext,
            ) -> Result<bool, ::prost::DecodeError> {
                match tag {
                    $($tag => {
                        let mut m = Default::default();
                        ::prost::encoding::message::merge(wire_type, &mut m, buf, ctx)?;
                        *self = Self::$variant(m);
                        Ok(true)
                    })+
                    _ => Ok(false),
                }
            }

            pub(crate) fn member_len(&self) -> usize {
                match self {
                    $(Self::$variant(m) => ::prost::encoding::message::encoded_len($tag, m),)+
                    Self::$unknown => 0,
                }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::$unknown
            }
        }

        impl ::prost::Message for $name {
            fn encode_raw(&self, buf: &mut impl ::bytes::BufMut) {
                self.encode_member(buf)
            }

            fn merge_field(
                &mut self,
                tag: u32,
                wire_type: ::prost::encoding::WireType,
                buf: &mut impl ::bytes::Buf,
                ctx: ::prost::encoding::DecodeContext,
            ) -> Result<(), ::prost::DecodeError> {
                if !self.merge_member(tag, wire_type, buf, ctx.clone())? {
                    ::prost::encoding::skip_field(wire_type, tag, buf, ctx)?;
                }
                Ok(())
            }

            fn encoded_len(&self) -> usize {
                self.member_len()
            }

            fn clear(&mut self) {
                *self = Self::$unknown;
            }
        }
    };
}

pub(crate) use message_union;
