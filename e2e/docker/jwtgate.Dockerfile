# jwtgate without a base image. `cargo xtask images` lays out rootfs/: the binary, the
# shared libraries `ldd` names and the dynamic loader, and an empty /tmp. Nothing is pulled.
FROM scratch
COPY rootfs/ /
EXPOSE 8200
ENTRYPOINT ["/jwtgate"]
CMD ["server", "--dev", "--dev-root-token-id", "root", "--dev-listen-address", "0.0.0.0:8200"]
